// The remapping layer: one main device plus spares, exported at the main device's size. Requests are
// split at block boundaries into runs (main / spare / pending); with no remap in range they pass straight to main.
import type {
  BlockDevice,
  DeviceCapabilities,
  DeviceStatus,
  WriteOptions,
  WriteZeroesOptions,
} from "../block/block-device.js";
import { tryReadNow, tryWriteNow } from "../block/answer-now.js";
import { BaseDevice, zeroes } from "../block/base-device.js";
import type { CopyOffload } from "../block/copy-offload.js";
import { MediumError } from "../block/errors.js";
import { FencedRangeError, WriteTimeoutError } from "./errors.js";
import type {
  CopyStatus,
  MetadataStore,
  OpenedSet,
  SetIdentity,
  SpareIdentity,
} from "../metadata/metadata-store.js";
import { readRemapped, writeBlockGuarded, writeLower } from "./block-ops.js";
import type { RemapClock } from "./remap-clock.js";
import { errorText, RemapCore } from "./remap-core.js";
import { listBlocks, markPending, clearPending, remapBlock, unremapBlock } from "./remap-control.js";
import type { ListOptions, ListResult, RemapOutcome } from "./remap-control.js";
import type { RemapEvents } from "./remap-events.js";
import { resolveRemapPolicy, type RemapPolicy } from "./remap-policy.js";
import { remapStatus, type RemapStatus } from "./remap-status.js";
import { readAfterMainError, readDeadline, readPendingBack } from "./read-recovery.js";
import { checkSetDevices, removedSpare } from "./set-devices.js";
import { blocksOnSpare, moveOffSpare, type SpareMoveOutcome } from "./spare-move.js";
import { type CopiesOutcome, copiesOf, ensureTwoCopiesLocked } from "./mirror-ops.js";
import type { SpareUsage } from "./spare-pool.js";
import {
  type SpareBatchOutcome,
  type WrittenSpareBatch,
  commitSpareBatches,
  moveSpareBatch,
} from "./spare-batch-move.js";
import { MissingDevice } from "../block/missing-device.js";

const RW_CAPABILITIES: DeviceCapabilities = Object.freeze({
  flush: true,
  fua: true,
  trim: true,
  writeZeroes: true,
  readOnly: false,
});
const RO_CAPABILITIES: DeviceCapabilities = Object.freeze({ ...RW_CAPABILITIES, readOnly: true });
/** Largest piece of a zeroing run handed to main at once (bounds per-block fallback work). */
const MAX_ZERO_RUN_BYTES = 32 << 20;

type Op = "read" | "write" | "zero" | "trim";

/** Arguments of openRemappedDevice. */
export interface OpenRemappedDeviceOptions {
  readonly main: BlockDevice;
  /** Spare devices: in set index order, or any order when their describe() names are unique. */
  readonly spares: readonly BlockDevice[];
  readonly opened: OpenedSet;
  /** Policy overrides; validated, defaults filled in. */
  readonly policy?: Partial<RemapPolicy>;
  readonly events?: RemapEvents;
  /** Time source of retries, backoff and write timeouts (default: real time). */
  readonly clock?: RemapClock;
}

/** Build a RemappedDevice over an opened set; validates devices against the set identity. */
export function openRemappedDevice(options: OpenRemappedDeviceOptions): RemappedDevice {
  const { main, opened } = options;
  const spares = checkSetDevices(main, options.spares, opened);
  const policy = resolveRemapPolicy(options.policy ?? {});
  const name = opened.store.identity.name;
  const { events, clock } = options;
  return new RemappedDevice(new RemapCore({ name, main, spares, opened, policy, events, clock }));
}

/** plainOrSlot(): the range has no special block. */
const PLAIN = -1;
/** plainOrSlot(): the range must take the promise path. */
const NOT_NOW = -2;

/** Block device that redirects bad blocks of main to spare slots (see docs/SEMANTICS.md). */
export class RemappedDevice extends BaseDevice {
  readonly name: string;
  readonly sizeBytes: number;
  readonly blockSize: number;
  /** User reads and writes started (userIoCount). */
  private userRequests = 0;

  constructor(readonly core: RemapCore) {
    super();
    this.name = core.name;
    this.blockSize = core.blockSize;
    this.sizeBytes = core.sizeBytes;
  }

  get capabilities(): DeviceCapabilities {
    return this.core.readOnlyReason === undefined ? RW_CAPABILITIES : RO_CAPABILITIES;
  }

  protected override readOnlyReason(): string | undefined {
    return this.core.readOnlyReason;
  }

  protected _read(offsetBytes: number, target: Uint8Array): Promise<void> {
    this.userRequests++;
    return this.readBlocks(offsetBytes, target);
  }

  /** The read path of user reads and background-scan reads. */
  private async readBlocks(offsetBytes: number, target: Uint8Array): Promise<void> {
    const core = this.core;
    const first = Math.floor(offsetBytes / this.blockSize);
    const last = Math.floor((offsetBytes + target.length - 1) / this.blockSize);
    if (core.firstSpecial(first, last) >= 0) {
      if (first === last) {
        const slot = core.table.get(first);
        // Fast path, the same steps as split() -> specialBlock() for one remapped, unlocked block.
        if (slot >= 0 && !core.guard.locks.has(first))
          return this.readOneRemapped(first, slot, offsetBytes - first * this.blockSize, target);
      }
      return this.split("read", offsetBytes, target.length, target);
    }
    let fenced = false;
    const id = core.guard.register(first, last);
    try {
      return await core.main.read(offsetBytes, target);
    } catch (err) {
      if (err instanceof FencedRangeError) fenced = true;
      else if (!(err instanceof MediumError)) throw err;
      else core.count("errors.read");
    } finally {
      core.guard.release(id);
    }
    if (fenced) return this.readAfterFence(offsetBytes, target);
    return readAfterMainError(core, offsetBytes, target, readDeadline(core), first === last ? 1 : 0);
  }

  protected async _write(offsetBytes: number, data: Uint8Array, options: WriteOptions): Promise<void> {
    this.userRequests++;
    const core = this.core;
    const first = Math.floor(offsetBytes / this.blockSize);
    const last = Math.floor((offsetBytes + data.length - 1) / this.blockSize);
    if (core.firstSpecial(first, last) >= 0)
      return this.split("write", offsetBytes, data.length, data, options);
    const fua = options.fua === true;
    const id = core.guard.register(first, last);
    let timedOut: WriteTimeoutError | undefined;
    try {
      if (!fua || core.main.capabilities.fua) return await core.main.write(offsetBytes, data, options);
      return await writeLower(core.main, offsetBytes, data, true);
    } catch (err) {
      if (!(err instanceof MediumError)) throw err;
      if (err instanceof WriteTimeoutError) timedOut = err;
      core.count("errors.write");
    } finally {
      core.guard.release(id);
    }
    return this.writeAfterMainError(offsetBytes, data.length, data, fua, first === last ? 1 : 0, timedOut);
  }

  /**
   * Fast path (answer-now.ts): a range with no remapped, pending or locked block answered by main
   * now, or a range inside one remapped block (unlocked, one copy, no lost sectors) answered by its
   * slot now: the same I/O as the promise path, without the guard registration (nothing else runs
   * until the device returns, so no lock can wait for this I/O). Anything else (a pending, locked or
   * mirrored block, several blocks with one special, a device refusing or failing) takes the promise
   * path, which handles it as always.
   */
  protected override _readNow(offsetBytes: number, target: Uint8Array): boolean {
    return this.answerNow(offsetBytes, target, tryReadNow);
  }

  protected override _writeNow(offsetBytes: number, data: Uint8Array): boolean {
    return this.answerNow(offsetBytes, data, tryWriteNow);
  }

  /** `now` on main for a plain range, on the slot for a range inside one remapped block; else false. */
  private answerNow(offsetBytes: number, buf: Uint8Array, now: typeof tryReadNow): boolean {
    const core = this.core;
    const block = this.plainOrSlot(offsetBytes, buf.length);
    if (block === NOT_NOW) return false;
    let done: boolean;
    if (block === PLAIN) done = now(core.main, offsetBytes, buf);
    else {
      const slot = core.table.get(block);
      done = now(core.spareOf(slot), core.pool.offsetOf(slot) + offsetBytes - block * this.blockSize, buf);
    }
    if (done) this.userRequests++;
    return done;
  }

  /**
   * PLAIN when no block of the range is remapped, pending or locked; the block when the range lies
   * inside one remapped block that is unlocked, has one copy and no lost sectors; NOT_NOW otherwise.
   */
  private plainOrSlot(offsetBytes: number, lengthBytes: number): number {
    const core = this.core;
    const first = Math.floor(offsetBytes / this.blockSize);
    const last = Math.floor((offsetBytes + lengthBytes - 1) / this.blockSize);
    if (core.firstSpecial(first, last) < 0) return PLAIN;
    if (first !== last || core.table.get(first) < 0 || core.guard.locks.has(first)) return NOT_NOW;
    if (core.lost.has(first) || (core.mirrors.size > 0 && core.mirrors.has(first))) return NOT_NOW;
    return first;
  }

  protected override async _writeZeroes(
    offsetBytes: number,
    lengthBytes: number,
    options: WriteZeroesOptions,
  ) {
    return this.split("zero", offsetBytes, lengthBytes, undefined, options);
  }

  protected override async _trim(offsetBytes: number, lengthBytes: number): Promise<void> {
    return this.split("trim", offsetBytes, lengthBytes, undefined);
  }

  protected async _flush(): Promise<void> {
    const core = this.core;
    await core.commitsSettled();
    // A missing spare (degraded set) holds nothing this process wrote: there is nothing to flush there.
    const present = core.spares.filter((s) => !(s instanceof MissingDevice));
    const results = await Promise.allSettled([core.main.flush(), ...present.map((s) => s.flush())]);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) {
      core.count("errors.flush");
      throw new MediumError(
        this.name,
        "flush",
        0,
        0,
        `${this.name}: flush failed: ${errorText(failed.reason)}`,
        {
          cause: failed.reason,
        },
      );
    }
  }

  /** Read within one remapped, unlocked block: specialBlock()'s read steps without split()'s walk. */
  private readOneRemapped(
    block: number,
    slot: number,
    withinBytes: number,
    target: Uint8Array,
  ): Promise<void> {
    const core = this.core;
    const id = core.guard.register(block, block);
    const release = (): void => core.guard.release(id);
    const read = readRemapped(core, block, slot, withinBytes, target);
    read.then(release, release);
    return read;
  }

  /** Walk [offsetBytes, +lengthBytes) as alternating healthy runs and special (remapped/pending/locked) blocks. */
  private async split(
    op: Op,
    offsetBytes: number,
    lengthBytes: number,
    buf: Uint8Array | undefined,
    options: WriteZeroesOptions = {},
  ): Promise<void> {
    const core = this.core;
    const bs = this.blockSize;
    const end = offsetBytes + lengthBytes;
    const lastBlock = Math.floor((end - 1) / bs);
    const deadline = op === "read" ? readDeadline(core) : 0;
    for (let pos = offsetBytes; pos < end;) {
      const block = Math.floor(pos / bs);
      const special = core.firstSpecial(block, lastBlock);
      if (special !== block) {
        const runEnd = special < 0 ? end : special * bs;
        await this.healthyRun(
          op,
          pos,
          runEnd - pos,
          buf?.subarray(pos - offsetBytes, runEnd - offsetBytes),
          options,
          deadline,
        );
        pos = runEnd;
        continue;
      }
      const held = core.guard.locks.get(block);
      if (held) {
        await held;
        continue;
      }
      const blockEnd = Math.min(end, (block + 1) * bs);
      const portion = buf?.subarray(pos - offsetBytes, blockEnd - offsetBytes);
      await this.specialBlock(op, block, pos - block * bs, blockEnd - pos, portion, options.fua === true);
      pos = blockEnd;
    }
  }

  private async healthyRun(
    op: Op,
    offsetBytes: number,
    lengthBytes: number,
    buf: Uint8Array | undefined,
    options: WriteZeroesOptions,
    deadline: number,
  ): Promise<void> {
    const core = this.core;
    const fua = options.fua === true;
    if (op === "zero" && lengthBytes > MAX_ZERO_RUN_BYTES) {
      for (let at = 0; at < lengthBytes; at += MAX_ZERO_RUN_BYTES) {
        const n = Math.min(MAX_ZERO_RUN_BYTES, lengthBytes - at);
        await this.healthyRun(op, offsetBytes + at, n, undefined, options, deadline);
      }
      return;
    }
    if (op === "trim" && !core.main.capabilities.trim) return;
    const first = Math.floor(offsetBytes / this.blockSize);
    const last = Math.floor((offsetBytes + lengthBytes - 1) / this.blockSize);
    const id = core.guard.register(first, last);
    let timedOut: WriteTimeoutError | undefined;
    let fenced = false;
    try {
      if (op === "read") return await core.main.read(offsetBytes, buf!);
      if (op === "write") return await writeLower(core.main, offsetBytes, buf!, fua);
      if (op === "trim") return await core.main.trim(offsetBytes, lengthBytes);
      if (core.main.capabilities.writeZeroes)
        return await core.main.writeZeroes(offsetBytes, lengthBytes, options);
      return await writeLower(core.main, offsetBytes, zeroes(lengthBytes), fua);
    } catch (err) {
      if (err instanceof FencedRangeError && op === "read") fenced = true;
      else if (!(err instanceof MediumError)) throw err;
      // TRIM is advisory: a medium error on it changes nothing a later read could see.
      else if (op === "trim") return;
      else {
        if (err instanceof WriteTimeoutError) timedOut = err;
        core.count(op === "read" ? "errors.read" : "errors.write");
      }
    } finally {
      core.guard.release(id);
    }
    if (fenced) return this.readAfterFence(offsetBytes, buf!);
    const prior = first === last ? 1 : 0;
    if (op === "read") return readAfterMainError(core, offsetBytes, buf!, deadline, prior);
    return this.writeAfterMainError(offsetBytes, lengthBytes, buf, fua, prior, timedOut);
  }

  private async specialBlock(
    op: Op,
    block: number,
    withinBytes: number,
    lengthBytes: number,
    portion: Uint8Array | undefined,
    fua: boolean,
  ): Promise<void> {
    const core = this.core;
    if (op === "trim") return;
    const slot = core.table.get(block);
    if (op === "read") {
      if (slot < 0) {
        const retry = core.policy.retryPendingReads && core.readBackPending.has(block);
        if (retry && (await readPendingBack(core, block, withinBytes, portion!))) return;
        throw new MediumError(
          this.name,
          "read",
          block * this.blockSize + withinBytes,
          lengthBytes,
          `${this.name}: block ${block} is pending (unreadable until rewritten)`,
        );
      }
      const id = core.guard.register(block, block);
      try {
        return await readRemapped(core, block, slot, withinBytes, portion!, readDeadline(core));
      } finally {
        core.guard.release(id);
      }
    }
    const data = portion ?? zeroes(lengthBytes);
    // Mirrored blocks are written under the lock: both copies must stay in step.
    if (slot >= 0 && !core.lost.has(block) && (core.mirrors.size === 0 || !core.mirrors.has(block))) {
      const id = core.guard.register(block, block);
      try {
        return await writeLower(core.spareOf(slot), core.pool.offsetOf(slot) + withinBytes, data, fua);
      } catch (err) {
        // The slot's spare failed the write: under the lock, the block moves to another spare.
        if (!(err instanceof MediumError)) throw err;
      } finally {
        core.guard.release(id);
      }
    }
    return writeBlockGuarded(core, block, withinBytes, data, fua, 0);
  }

  /**
   * A read met a range fenced behind an abandoned main write (its guard registration is released,
   * so the block's move can run): once the block moved to a spare, read it from there; otherwise
   * wait until main has really finished the write, then read again.
   */
  private async readAfterFence(offsetBytes: number, target: Uint8Array): Promise<void> {
    const core = this.core;
    const first = Math.floor(offsetBytes / this.blockSize);
    const last = Math.floor((offsetBytes + target.length - 1) / this.blockSize);
    for (let b = first; b <= last; b++) {
      const held = core.guard.locks.get(b);
      if (held) await held;
    }
    if (core.firstSpecial(first, last) < 0) await core.main.unfenced(offsetBytes, target.length);
    return this._read(offsetBytes, target);
  }

  /** Per-block retries (and remaps) after a main write of [offsetBytes, +lengthBytes) failed. */
  private async writeAfterMainError(
    offsetBytes: number,
    lengthBytes: number,
    buf: Uint8Array | undefined,
    fua: boolean,
    priorFailures: number,
    timedOut?: WriteTimeoutError,
  ): Promise<void> {
    const bs = this.blockSize;
    const end = offsetBytes + lengthBytes;
    for (let pos = offsetBytes; pos < end;) {
      const block = Math.floor(pos / bs);
      const blockEnd = Math.min(end, (block + 1) * bs);
      const data = buf ? buf.subarray(pos - offsetBytes, blockEnd - offsetBytes) : zeroes(blockEnd - pos);
      await writeBlockGuarded(this.core, block, pos - block * bs, data, fua, priorFailures, timedOut);
      pos = blockEnd;
    }
  }

  protected override async _close(): Promise<void> {
    const core = this.core;
    await core.idle();
    await core.commitsSettled();
    try {
      // A clean shutdown leaves nothing in volatile caches.
      await Promise.allSettled([core.main.flush(), ...core.spares.map((s) => s.flush())]);
      if (core.readOnlyReason === undefined) await core.checkpoint();
    } finally {
      await core.store.close();
      await Promise.allSettled([core.main.close(), ...core.spares.map((s) => s.close())]);
    }
  }

  protected override statusExtra(): Record<string, unknown> {
    return { ...remapStatus(this.core, this.counters) };
  }

  /** Live state: DeviceStatus plus the remap fields. */
  override status(): DeviceStatus & RemapStatus {
    return super.status() as DeviceStatus & RemapStatus;
  }

  describe(): string {
    const spares = this.core.spares.map((s) => s.describe()).join(",");
    return `remap:${this.core.store.identity.uuid}:main=${this.core.main.describe()}:spares=${spares}`;
  }

  /** Remap `block` now (copying its data if readable, otherwise marking it pending). */
  async remapBlock(block: number): Promise<RemapOutcome> {
    this.assertOpen();
    this.assertWritable();
    return remapBlock(this.core, block);
  }

  /** Copy `block` back to main and free its slot; if main fails it stays remapped and this throws. */
  async unremapBlock(block: number): Promise<void> {
    this.assertOpen();
    this.assertWritable();
    return unremapBlock(this.core, block);
  }

  /** Mark `block` pending: reads fail until it is written. */
  async markPending(block: number): Promise<boolean> {
    this.assertOpen();
    this.assertWritable();
    return markPending(this.core, block);
  }

  /** Clear the pending mark of `block` (reads come from main again). */
  async clearPending(block: number): Promise<boolean> {
    this.assertOpen();
    this.assertWritable();
    return clearPending(this.core, block);
  }

  /** Blocks of main, in remap units of `blockSize` (the last one may be partial). */
  get blockCount(): number {
    return this.core.blockCount;
  }

  /** How many blocks are remapped now. */
  get remappedCount(): number {
    return this.core.table.size;
  }

  /** The first block in [firstBlock, endBlock) that is remapped or pending, or -1. */
  firstRemappedOrPending(firstBlock: number, endBlock: number): number {
    const a = this.core.table.size > 0 ? this.core.table.firstInRange(firstBlock, endBlock) : -1;
    const b = this.core.pending.size > 0 ? this.core.pending.firstInRange(firstBlock, endBlock) : -1;
    return a < 0 ? b : b < 0 ? a : Math.min(a, b);
  }

  /** Is `block` remapped or pending? */
  isRemappedOrPending(block: number): boolean {
    return this.core.table.has(block) || this.core.pending.has(block);
  }

  /** Refuse every write and control verb from now on; `reason` is shown in status (no-op if already read-only). */
  enterReadOnly(reason: string): void {
    this.core.enterReadOnly(reason);
  }

  /** Slot usage of every spare, in set order. */
  spareUsage(): SpareUsage[] {
    return this.core.pool.perSpare();
  }

  /** The spare devices, in set order. */
  get spareDevices(): readonly BlockDevice[] {
    return this.core.spares;
  }

  /** What the set is (UUID, name, block size, spares), as its metadata records it now. */
  get setIdentity(): SetIdentity {
    return this.core.store.identity;
  }

  /** The set's metadata store (membership changes such as adding a spare go through it). */
  get metadataStore(): MetadataStore {
    return this.core.store;
  }

  /** Why the device refuses writes, or undefined while it is writable. */
  get readOnlyCause(): string | undefined {
    return this.core.readOnlyReason;
  }

  /** Start using `device` as spare `spare.index` (already added to the set's metadata). */
  attachSpare(device: BlockDevice, spare: SpareIdentity): void {
    this.core.addSpare(device, spare);
  }

  /** Stop using the last spare (already removed from the set's metadata); returns its device. */
  detachLastSpare(): BlockDevice {
    return this.core.removeLastSpare();
  }

  /**
   * Stop using spare `index` (already a tombstone in the set's metadata, holding no slot): a
   * placeholder takes its place, no slot is allocated there again; returns its device.
   */
  detachSpare(index: number): BlockDevice {
    const spares = this.core.spares as BlockDevice[];
    const device = spares[index]!;
    this.core.failingSpares.add(index);
    // Slots still allocated there are quarantined ones (a write to a missing spare failed): unreferenced.
    const { firstSlot, slotCount } = this.core.store.identity.spares[index]!;
    for (let slot = firstSlot; slot < firstSlot + slotCount; slot++)
      if (this.core.pool.isUsed(slot)) this.core.pool.release(slot);
    this.core.pool.retireSpare(index);
    spares[index] = removedSpare(index, device.sizeBytes);
    return device;
  }

  /** Health of every metadata copy (one per spare). */
  metadataCopies(): CopyStatus[] {
    return this.core.store.copies();
  }

  /** Index of the spare that holds remapped `block`, or -1 when it is not remapped. */
  spareIndexOf(block: number): number {
    const slot = this.core.table.get(block);
    return slot < 0 ? -1 : this.core.pool.spareIndexOf(slot);
  }

  /** Indexes of the spares holding a copy of `block` (two in a mirrored set; none when not remapped). */
  copySpares(block: number): number[] {
    return copiesOf(this.core, block).map((slot) => this.core.pool.spareIndexOf(slot));
  }

  /** The remapped blocks with a copy on spare `index`, in block order. */
  blocksOnSpare(index: number): number[] {
    return blocksOnSpare(this.core, index);
  }

  /** Take new slots from the other spares from now on (a spare being drained or failing). */
  avoidSpare(index: number): void {
    this.core.failingSpares.add(index);
  }

  /** Are new slots kept off spare `index` (a failed write quarantined it, or it is drained)? */
  isSpareAvoided(index: number): boolean {
    return this.core.failingSpares.has(index);
  }

  /** The remap policy the device runs with. */
  get remapPolicy(): RemapPolicy {
    return this.core.policy;
  }

  /**
   * Lock `blocks` and move those still on spare `index` to new slots on other spares, written and not
   * yet flushed or committed; worker threads copy where `copies` is given and the spares lend their
   * files (spare-batch-move.ts).
   */
  async moveSpareBatch(
    blocks: readonly number[],
    index: number,
    maxRunBlocks: number,
    buffer?: Uint8Array,
    onContended?: () => void,
    copies?: CopyOffload,
  ): Promise<WrittenSpareBatch> {
    this.assertOpen();
    this.assertWritable();
    return moveSpareBatch(this.core, blocks, index, maxRunBlocks, buffer, onContended, copies);
  }

  /** Flush and commit written batches as one group, free their old slots, unlock them. */
  async commitSpareBatches(written: readonly WrittenSpareBatch[]): Promise<SpareBatchOutcome> {
    return commitSpareBatches(this.core, written);
  }

  /** Move remapped `block` off spare `index` to a slot on another spare, under the block's lock. */
  async moveOffSpare(block: number, index: number, why: string): Promise<SpareMoveOutcome> {
    this.assertOpen();
    this.assertWritable();
    return moveOffSpare(this.core, block, index, why);
  }

  /**
   * User reads and writes started so far (background-scan reads not counted): a drain reads it to
   * yield to user I/O.
   */
  get userIoCount(): number {
    return this.userRequests;
  }

  /** Copies every remapped block has when healthy: 2 for a mirrored set, else 1. */
  get mirrorCopies(): 1 | 2 {
    return this.core.mirrorCopies;
  }

  /** Mirrored sets: remapped blocks without two copies on two healthy spares, in block order. */
  blocksNeedingCopies(): number[] {
    const core = this.core;
    if (core.mirrorCopies !== 2) return [];
    const healthy = (slot: number) => slot >= 0 && core.spareHealthy(core.pool.spareIndexOf(slot));
    const blocks: number[] = [];
    core.table.forEach((block, slot) => {
      if (!healthy(slot) || !healthy(core.mirrors.get(block))) blocks.push(block);
    });
    return blocks;
  }

  /**
   * Mirrored sets: give remapped `block` two copies on two healthy spares, under its lock; with
   * `onto`, new copies go to that spare only.
   */
  async rebuildCopies(block: number, onto?: number): Promise<CopiesOutcome> {
    this.assertOpen();
    this.assertWritable();
    if (this.core.mirrorCopies !== 2) return "ok";
    const options = onto === undefined ? {} : { onto };
    return this.core.guard.withLock(block, () => ensureTwoCopiesLocked(this.core, block, options));
  }

  /** Remapped and pending blocks in block order, a page at a time. */
  list(options: ListOptions = {}): ListResult {
    return listBlocks(this.core, options);
  }

  /** Write a checkpoint now. */
  async checkpoint(): Promise<void> {
    this.assertOpen();
    return this.core.checkpoint();
  }

  /** Resolve once background work (migrations, checkpoints) has finished. */
  idle(): Promise<void> {
    return this.core.idle();
  }

  /**
   * Background-scan read: the user read path (retries, migration, pending marks) without client I/O
   * accounting. Throws MediumError when a block stayed unreadable.
   */
  async scanRead(offsetBytes: number, target: Uint8Array): Promise<void> {
    this.assertOpen();
    this.assertRange(offsetBytes, target.length);
    return this.readBlocks(offsetBytes, target);
  }

  /** Also report events to `listener` (health services); returns the unsubscribe function. */
  subscribe(listener: RemapEvents): () => void {
    this.core.listeners.add(listener);
    return () => this.core.listeners.delete(listener);
  }

  /**
   * The main device below was swapped for a copy (replace-main): pending blocks were not copied, so
   * they are never read back from the new main; they stay pending until written.
   */
  mainReplaced(): void {
    this.core.readBackPending.clear();
  }
}
