// Live state of a remapped device: table, pending set, lost-sector masks, spare pool, guard, counters,
// and the only path to metadata (commit = durable append, then apply in memory; serialized checkpoints).
import type { BlockDevice } from "../block/block-device.js";
import { MediumError, NoSpaceError, ReadOnlyError } from "../block/errors.js";
import { MetadataCapacityError } from "../metadata/errors.js";
import type {
  JournalRecord,
  MetadataStore,
  OpenedSet,
  RemapReason,
  SpareIdentity,
  TableSnapshot,
} from "../metadata/metadata-store.js";
import { BlockGuard } from "./block-guard.js";
import { ErrorHistory } from "./error-history.js";
import { FencedMain } from "./fenced-main.js";
import { systemClock, type RemapClock } from "./remap-clock.js";
import type { RemapEvents, RemapState } from "./remap-events.js";
import type { RemapPolicy } from "./remap-policy.js";
import { RemapTable } from "./remap-table.js";
import { SparePool } from "./spare-pool.js";
import { MissingDevice } from "../block/missing-device.js";

/** Counters persisted at checkpoints (snapshot.counters), by key. */
export const PERSISTED_COUNTERS = [
  "errors.read",
  "errors.write",
  "errors.flush",
  "errors.metadata",
  "errors.spare",
  "errors.noSpace",
  "retries.read",
  "retries.write",
  "remaps.write-error",
  "remaps.read-error",
  "remaps.migrate",
  "remaps.manual",
  "unremaps",
  "pending.marked",
  "pending.cleared",
] as const;

/** Everything needed to build a core. */
export interface RemapCoreOptions {
  readonly name: string;
  readonly main: BlockDevice;
  /** Spare devices in set index order (spares[i] holds identity.spares[i]). */
  readonly spares: readonly BlockDevice[];
  readonly opened: OpenedSet;
  readonly policy: RemapPolicy;
  readonly events?: RemapEvents;
  /** Time source (default: real time, jitter seeded with 1). */
  readonly clock?: RemapClock;
}

/** Why a block was remapped in this session (the journal keeps the reason code). */
export interface RemapNote {
  readonly reason: RemapReason;
  /** Human detail, e.g. "write timed out after 10000 ms". */
  readonly detail: string;
  /** Failed main reads of the block counted before it moved. */
  readonly readErrors: number;
}

/** Shared state and metadata plumbing of one remapped device. */
export class RemapCore {
  readonly name: string;
  /** Main behind the write fence (every main I/O of the layer goes through it). */
  readonly main: FencedMain;
  readonly spares: readonly BlockDevice[];
  readonly store: MetadataStore;
  readonly clock: RemapClock;
  /** Per-block read-error history (bounded), the evidence for migrating a recovered block. */
  readonly errorHistory: ErrorHistory;
  /** Pending blocks marked this session because main failed to read them (may be read back). */
  readonly readBackPending = new Set<number>();
  /** Reasons of the remaps made in this session, by block. */
  readonly remapNotes = new Map<number, RemapNote>();
  readonly policy: RemapPolicy;
  readonly events: RemapEvents;
  readonly blockSize: number;
  /** Blocks of main; the last one is partial when mainSizeBytes is not a multiple of blockSize. */
  readonly blockCount: number;
  readonly sizeBytes: number;
  readonly table: RemapTable;
  /** Copies every remapped block should have: 2 in a mirrored set (identity.mirrorCopies). */
  readonly mirrorCopies: 1 | 2;
  /** Mirrored sets: block -> slot of its second copy, on another spare than table's slot. */
  readonly mirrors: RemapTable;
  /** Pending blocks (values unused). */
  readonly pending: RemapTable;
  /** Lost-sector masks of remapped blocks (only blocks with at least one lost sector). */
  readonly lost = new Map<number, Uint8Array>();
  readonly pool: SparePool;
  readonly guard = new BlockGuard();
  readonly stats: Record<string, number> = {};
  /** Indexes of spares that failed a write this session: new slots come from the others first. */
  readonly failingSpares = new Set<number>();
  /** Slots whose spare write failed: kept allocated, never reused in this session. */
  quarantinedSlots = 0;
  readOnlyReason: string | undefined;
  private readonly inflightCommits = new Set<Promise<void>>();
  private checkpointGate: Promise<void> | undefined;
  private checkpointChain: Promise<void> = Promise.resolve();
  private checkpointQueued = false;
  private readonly background = new Set<Promise<void>>();
  private lastState: RemapState = "healthy";
  private alerted = false;

  constructor(options: RemapCoreOptions) {
    const { opened } = options;
    const identity = opened.store.identity;
    this.name = options.name;
    this.spares = options.spares;
    this.store = opened.store;
    this.policy = options.policy;
    this.events = options.events ?? {};
    this.clock = options.clock ?? systemClock();
    this.main = new FencedMain(options.main, {
      writeTimeoutMs: options.policy.mainWriteTimeoutMs,
      blockSize: identity.blockSize,
      clock: this.clock,
      onFenced: (event) => {
        this.count("fenced.writes");
        this.emit("onFencedWrite", event);
      },
    });
    this.errorHistory = new ErrorHistory(options.policy.errorHistoryBlocks);
    this.blockSize = identity.blockSize;
    this.sizeBytes = identity.mainSizeBytes;
    this.blockCount = Math.ceil(identity.mainSizeBytes / identity.blockSize);
    this.pool = new SparePool(identity.spares, {
      name: this.name,
      blockSize: identity.blockSize,
      nearlyExhaustedPercent: options.policy.spareAlertPercent,
      allocation: options.policy.spareAllocation,
    });
    // A drain interrupted by a crash or restart still keeps new slots off its spare.
    for (const index of opened.store.drainingSpares ?? []) this.failingSpares.add(index);
    // A removed spare (tombstone) never gets a slot again.
    for (const spare of identity.spares) if (spare.removed) this.failingSpares.add(spare.index);
    const snap = opened.snapshot;
    this.table = RemapTable.fromSorted(snap.blocks, snap.slots);
    this.pending = RemapTable.fromSorted(snap.pending, new Uint32Array(snap.pending.length));
    for (let i = 0; i < snap.blocks.length; i++) {
      if (snap.blocks[i]! >= this.blockCount)
        throw new RangeError(`remapped block ${snap.blocks[i]} is past the end`);
      this.pool.markUsed(snap.slots[i]!);
    }
    for (const spare of identity.spares) if (spare.removed) this.pool.retireSpare(spare.index);
    this.mirrorCopies = identity.mirrorCopies === 2 ? 2 : 1;
    // Unmirrored sets keep a minimal table (a one-entry delta buffer): no cost when mirror is off.
    this.mirrors = snap.mirrors
      ? RemapTable.fromSorted(snap.mirrors.blocks, snap.mirrors.slots)
      : new RemapTable(this.mirrorCopies === 2 ? undefined : 1);
    for (let i = 0; i < (snap.mirrors?.blocks.length ?? 0); i++) {
      const block = snap.mirrors!.blocks[i]!;
      if (!this.table.has(block))
        throw new RangeError(`second copy recorded for block ${block}, not remapped`);
      this.pool.markUsed(snap.mirrors!.slots[i]!);
    }
    for (const [block, mask] of snap.lost) {
      if (!this.table.has(block))
        throw new RangeError(`lost sectors recorded for block ${block}, not remapped`);
      if (mask.some((b) => b !== 0)) this.lost.set(block, Uint8Array.from(mask));
    }
    for (const key of PERSISTED_COUNTERS) this.stats[key] = 0;
    for (const [key, value] of Object.entries(snap.counters)) this.stats[key] = value;
    this.readOnlyReason = opened.readOnlyReason;
    this.lastState = this.state().state;
    this.alerted = this.pool.nearlyExhausted;
  }

  /** Bytes of `block` inside the device (blockSize, except for a partial last block). */
  blockBytes(block: number): number {
    return Math.min(this.blockSize, this.sizeBytes - block * this.blockSize);
  }

  /** Add to a counter. */
  count(key: string, n = 1): void {
    this.stats[key] = (this.stats[key] ?? 0) + n;
  }

  /** The smallest block in [firstBlock, lastBlock] that is remapped, pending or locked; -1 if none. */
  firstSpecial(firstBlock: number, lastBlock: number): number {
    let best = -1;
    if (this.table.size > 0) best = this.table.firstInRange(firstBlock, lastBlock + 1);
    if (this.pending.size > 0) {
      const p = this.pending.firstInRange(firstBlock, lastBlock + 1);
      if (p >= 0 && (best < 0 || p < best)) best = p;
    }
    if (this.guard.locks.size > 0) {
      const l = this.guard.firstLocked(firstBlock, lastBlock);
      if (l >= 0 && (best < 0 || l < best)) best = l;
    }
    return best;
  }

  /** Make a spare added to the set online (src/spares) usable: its device, then its slots. */
  addSpare(device: BlockDevice, spare: SpareIdentity): void {
    if (spare.index !== this.spares.length) throw new RangeError(`spare ${spare.index} is out of sequence`);
    (this.spares as BlockDevice[]).push(device);
    this.pool.addSpare(spare);
  }

  /** Forget the last spare, removed from the set online (src/spares); returns its device. */
  removeLastSpare(): BlockDevice {
    const spare = this.pool.removeLastSpare();
    this.failingSpares.delete(spare.index);
    return (this.spares as BlockDevice[]).pop()!;
  }

  /** The spare device holding global `slot`. */
  spareOf(slot: number): BlockDevice {
    return this.spares[this.pool.spareIndexOf(slot)]!;
  }

  /** Append `records` durably, then run `apply`; a metadata failure turns the device read-only. */
  async commit(records: JournalRecord[], apply: () => void): Promise<void> {
    while (this.checkpointGate) await this.checkpointGate;
    if (this.readOnlyReason !== undefined) throw new ReadOnlyError(this.name, this.readOnlyReason);
    const op = this.store.append(records).then(apply);
    this.inflightCommits.add(op);
    try {
      await op;
    } catch (err) {
      // A full table is refused before anything is written: fail this change, stay writable.
      if (err instanceof MetadataCapacityError) {
        this.count("errors.noSpace");
        this.afterChange();
        throw new NoSpaceError(this.name, `metadata has no room for this change: ${errorText(err)}`);
      }
      this.count("errors.metadata");
      this.enterReadOnly(`metadata append failed: ${errorText(err)}`);
      const block = records[0]?.block ?? 0;
      throw new MediumError(
        this.name,
        "write",
        block * this.blockSize,
        this.blockSize,
        `${this.name}: metadata for block ${block} could not be made durable; device is now read-only`,
        { cause: err },
      );
    } finally {
      this.inflightCommits.delete(op);
    }
    this.afterChange();
    if (this.store.wantsCheckpoint && !this.checkpointQueued) {
      this.checkpointQueued = true;
      this.runBackground("checkpoint", () => {
        this.checkpointQueued = false;
        return this.checkpoint();
      });
    }
  }

  /** Wait until every metadata append started so far has settled. */
  async commitsSettled(): Promise<void> {
    await Promise.allSettled([...this.inflightCommits]);
  }

  /** Write a checkpoint of the current state (serialized; appends wait while it runs). */
  checkpoint(): Promise<void> {
    const run = this.checkpointChain.then(() => this.runCheckpoint());
    this.checkpointChain = run.catch(() => undefined);
    return run;
  }

  private async runCheckpoint(): Promise<void> {
    if (this.readOnlyReason !== undefined) return;
    let open!: () => void;
    this.checkpointGate = new Promise<void>((resolve) => (open = resolve));
    try {
      await this.commitsSettled();
      await this.store.checkpoint(this.snapshot());
    } catch (err) {
      this.count("errors.metadata");
      this.enterReadOnly(`metadata checkpoint failed: ${errorText(err)}`);
      throw err;
    } finally {
      this.checkpointGate = undefined;
      open();
    }
  }

  /** The full persistent state (table, pending, lost masks, counters). */
  snapshot(): TableSnapshot {
    const { blocks, slots } = this.table.toSnapshot();
    return {
      blocks,
      slots,
      pending: this.pending.toSnapshot().blocks,
      lost: new Map([...this.lost].map(([block, mask]) => [block, Uint8Array.from(mask)])),
      counters: { ...this.stats },
      ...(this.mirrors.size > 0 ? { mirrors: this.mirrors.toSnapshot() } : {}),
    };
  }

  /** True when spare `index` is present and has not failed a write this session. */
  spareHealthy(index: number): boolean {
    return !this.failingSpares.has(index) && !(this.spares[index] instanceof MissingDevice);
  }

  /** Mirrored sets: spares able to hold a copy now (present, not failing). */
  healthySpareCount(): number {
    let n = 0;
    for (let i = 0; i < this.spares.length; i++) if (this.spareHealthy(i)) n++;
    return n;
  }

  /**
   * Mirrored sets: remapped blocks without two copies on healthy spares (0 when not mirrored). Walks
   * the table only while a spare is missing or failing; otherwise it is a subtraction.
   */
  singleCopyBlocks(): number {
    if (this.mirrorCopies !== 2) return 0;
    if (this.healthySpareCount() === this.spares.length) return this.table.size - this.mirrors.size;
    let n = 0;
    const healthy = (slot: number) => slot >= 0 && this.spareHealthy(this.pool.spareIndexOf(slot));
    this.table.forEach((block, slot) => {
      if (!healthy(slot) || !healthy(this.mirrors.get(block))) n++;
    });
    return n;
  }

  /** Switch to read-only (idempotent; the first reason wins). */
  enterReadOnly(reason: string): void {
    if (this.readOnlyReason !== undefined) return;
    this.readOnlyReason = reason;
    this.afterChange();
  }

  /** Run `task` in the background; failures are reported through events, never thrown. */
  runBackground(name: string, task: () => Promise<void>): void {
    const run = task().catch((error: unknown) => this.emit("onBackgroundError", { task: name, error }));
    this.background.add(run);
    void run.finally(() => this.background.delete(run));
  }

  /** Resolve once no background task (migration, checkpoint) is running. */
  async idle(): Promise<void> {
    while (this.background.size > 0) await Promise.allSettled([...this.background]);
    await this.checkpointChain;
  }

  /** Overall state and why. */
  state(): { state: RemapState; reason: string } {
    if (this.readOnlyReason !== undefined) return { state: "read-only", reason: this.readOnlyReason };
    const reasons: string[] = [];
    if (this.pool.freeSlots === 0) reasons.push("no spare slot left");
    else if (this.pool.nearlyExhausted) reasons.push(`only ${this.pool.freeSlots} spare slots left`);
    if (this.pending.size > 0) reasons.push(`${this.pending.size} pending blocks`);
    if (this.lost.size > 0) reasons.push(`${this.lost.size} blocks with lost sectors`);
    if (this.mirrorCopies === 2) {
      const single = this.singleCopyBlocks();
      if (single > 0) reasons.push(`mirror degraded: ${single} remapped blocks have one copy`);
      const healthy = this.healthySpareCount();
      if (healthy < 2) reasons.push(`mirror degraded: ${healthy} healthy spare(s), 2 needed`);
    }
    const badCopies = this.store.copies().filter((c) => c.state !== "ok").length;
    if (badCopies > 0) reasons.push(`${badCopies} metadata copies not ok`);
    return reasons.length > 0
      ? { state: "degraded", reason: reasons.join("; ") }
      : { state: "healthy", reason: "" };
  }

  /** Fire state-change and spare-alert events after anything changed. */
  afterChange(): void {
    const { state, reason } = this.state();
    if (state !== this.lastState) {
      this.lastState = state;
      this.emit("onStateChange", { state, reason });
    }
    const nearly = this.pool.nearlyExhausted;
    if (nearly && !this.alerted) {
      this.emit("onSpareAlert", { freeBlocks: this.pool.freeSlots, totalBlocks: this.pool.capacitySlots });
    }
    this.alerted = nearly;
  }

  /** Call an event callback, ignoring its exceptions. */
  emit<K extends keyof RemapEvents>(name: K, event: Parameters<NonNullable<RemapEvents[K]>>[0]): void {
    for (const events of [this.events, ...this.listeners]) {
      const handler = events[name] as ((e: typeof event) => void) | undefined;
      if (!handler) continue;
      try {
        handler.call(events, event);
      } catch (error) {
        // A failing listener must not break the data path, but must not vanish either: it is
        // reported as a background error (unless that report itself is what failed).
        if (name !== "onBackgroundError")
          this.emit("onBackgroundError", { task: `event listener ${name}`, error });
      }
    }
  }

  /** Extra event listeners (health services); subscribe() returns the unsubscribe function. */
  readonly listeners = new Set<RemapEvents>();
}

/** Short text of any thrown value. */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
