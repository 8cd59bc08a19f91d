// The remapping layer: one main device plus spares, exported at the main device's size. Requests are
// split at block boundaries into runs (main / spare / pending); with no remap in range they pass straight to main.
import type {
  BlockDevice,
  DeviceCapabilities,
  DeviceStatus,
  WriteOptions,
  WriteZeroesOptions,
} from "../block/block-device.js";
import { BaseDevice, zeroes } from "../block/base-device.js";
import { MediumError } from "../block/errors.js";
import type { OpenedSet } from "../metadata/metadata-store.js";
import { readRemapped, writeBlockGuarded, writeLower } from "./block-ops.js";
import { errorText, RemapCore } from "./remap-core.js";
import { listBlocks, markPending, clearPending, remapBlock, unremapBlock } from "./remap-control.js";
import type { ListOptions, ListResult, RemapOutcome } from "./remap-control.js";
import type { RemapEvents } from "./remap-events.js";
import { resolveRemapPolicy, type RemapPolicy } from "./remap-policy.js";
import { remapStatus, type RemapStatus } from "./remap-status.js";
import { readAfterMainError, readDeadline } from "./read-recovery.js";
import { checkSetDevices } from "./set-devices.js";

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
}

/** Build a RemappedDevice over an opened set; validates devices against the set identity. */
export function openRemappedDevice(options: OpenRemappedDeviceOptions): RemappedDevice {
  const { main, opened } = options;
  const spares = checkSetDevices(main, options.spares, opened);
  const policy = resolveRemapPolicy(options.policy ?? {});
  const name = opened.store.identity.name;
  return new RemappedDevice(new RemapCore({ name, main, spares, opened, policy, events: options.events }));
}

/** Block device that redirects bad blocks of main to spare slots (see docs/remap-semantics.md). */
export class RemappedDevice extends BaseDevice {
  readonly name: string;
  readonly sizeBytes: number;
  readonly blockSize: number;

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

  protected async _read(offsetBytes: number, target: Uint8Array): Promise<void> {
    const core = this.core;
    const first = Math.floor(offsetBytes / this.blockSize);
    const last = Math.floor((offsetBytes + target.length - 1) / this.blockSize);
    if (core.firstSpecial(first, last) >= 0) return this.split("read", offsetBytes, target.length, target);
    const id = core.guard.register(first, last);
    try {
      return await core.main.read(offsetBytes, target);
    } catch (err) {
      if (!(err instanceof MediumError)) throw err;
      core.count("errors.read");
    } finally {
      core.guard.release(id);
    }
    return readAfterMainError(core, offsetBytes, target, readDeadline(core), first === last ? 1 : 0);
  }

  protected async _write(offsetBytes: number, data: Uint8Array, options: WriteOptions): Promise<void> {
    const core = this.core;
    const first = Math.floor(offsetBytes / this.blockSize);
    const last = Math.floor((offsetBytes + data.length - 1) / this.blockSize);
    if (core.firstSpecial(first, last) >= 0)
      return this.split("write", offsetBytes, data.length, data, options);
    const fua = options.fua === true;
    const id = core.guard.register(first, last);
    try {
      if (!fua || core.main.capabilities.fua) return await core.main.write(offsetBytes, data, options);
      return await writeLower(core.main, offsetBytes, data, true);
    } catch (err) {
      if (!(err instanceof MediumError)) throw err;
      core.count("errors.write");
    } finally {
      core.guard.release(id);
    }
    return this.writeAfterMainError(offsetBytes, data.length, data, fua, first === last ? 1 : 0);
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
    const results = await Promise.allSettled([core.main.flush(), ...core.spares.map((s) => s.flush())]);
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
    try {
      if (op === "read") return await core.main.read(offsetBytes, buf!);
      if (op === "write") return await writeLower(core.main, offsetBytes, buf!, fua);
      if (op === "trim") return await core.main.trim(offsetBytes, lengthBytes);
      if (core.main.capabilities.writeZeroes)
        return await core.main.writeZeroes(offsetBytes, lengthBytes, options);
      return await writeLower(core.main, offsetBytes, zeroes(lengthBytes), fua);
    } catch (err) {
      if (!(err instanceof MediumError)) throw err;
      // TRIM is advisory: a medium error on it changes nothing a later read could see.
      if (op === "trim") return;
      core.count(op === "read" ? "errors.read" : "errors.write");
    } finally {
      core.guard.release(id);
    }
    const prior = first === last ? 1 : 0;
    if (op === "read") return readAfterMainError(core, offsetBytes, buf!, deadline, prior);
    return this.writeAfterMainError(offsetBytes, lengthBytes, buf, fua, prior);
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
        return await readRemapped(core, block, slot, withinBytes, portion!);
      } finally {
        core.guard.release(id);
      }
    }
    const data = portion ?? zeroes(lengthBytes);
    if (slot >= 0 && !core.lost.has(block)) {
      const id = core.guard.register(block, block);
      try {
        return await writeLower(core.spareOf(slot), core.pool.offsetOf(slot) + withinBytes, data, fua);
      } finally {
        core.guard.release(id);
      }
    }
    return writeBlockGuarded(core, block, withinBytes, data, fua, 0);
  }

  /** Per-block retries (and remaps) after a main write of [offsetBytes, +lengthBytes) failed. */
  private async writeAfterMainError(
    offsetBytes: number,
    lengthBytes: number,
    buf: Uint8Array | undefined,
    fua: boolean,
    priorFailures: number,
  ): Promise<void> {
    const bs = this.blockSize;
    const end = offsetBytes + lengthBytes;
    for (let pos = offsetBytes; pos < end;) {
      const block = Math.floor(pos / bs);
      const blockEnd = Math.min(end, (block + 1) * bs);
      const data = buf ? buf.subarray(pos - offsetBytes, blockEnd - offsetBytes) : zeroes(blockEnd - pos);
      await writeBlockGuarded(this.core, block, pos - block * bs, data, fua, priorFailures);
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
}
