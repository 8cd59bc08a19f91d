// The MetadataStore over the copies on every spare: group commit of journal batches, A/B
// checkpoints, per-copy failure tracking (docs/FORMAT.md "Commit protocol").
import type { BlockDevice } from "../block/block-device.js";
import type {
  CopyStatus,
  JournalRecord,
  MetadataStore,
  SetIdentity,
  TableSnapshot,
} from "./metadata-store.js";
import { encodeBody, encodeSlot } from "./checkpoint-codec.js";
import {
  BATCH_HEADER_BYTES,
  type MetadataLayout,
  journalOffset,
  roundUp,
  slotOffset,
  uuidToBytes,
} from "./layout.js";
import { encodeBatch, recordBytes } from "./journal-codec.js";
import { encodeSuperblock } from "./superblock.js";
import type { TableState } from "./table-state.js";
import { recordProblem } from "./table-state.js";
import {
  InvalidRecordError,
  MetadataCapacityError,
  MetadataClosedError,
  MetadataWriteError,
} from "./errors.js";

/** One metadata copy as the store tracks it. */
export interface CopyHandle {
  readonly device: BlockDevice;
  readonly spareIndex: number;
  /** Slot of the newest state on this copy, -1 when none. */
  activeSlot: 0 | 1 | -1;
  generation: number;
  state: CopyStatus["state"];
  detail?: string;
}

/** Where the journal stands, as recovered on open. */
export interface JournalPosition {
  readonly generation: number;
  readonly checkpointGeneration: number;
  readonly writeOffset: number;
  readonly usedBytes: number;
}

type Item =
  | {
      kind: "append";
      records: readonly JournalRecord[];
      bytes: number;
      resolve: () => void;
      reject: (e: unknown) => void;
    }
  | {
      kind: "checkpoint";
      counters: Record<string, number>;
      resolve: () => void;
      reject: (e: unknown) => void;
    };

/** Fraction of the ring after which wantsCheckpoint turns true. */
const CHECKPOINT_THRESHOLD = 0.75;

/** Persists a set's table on every healthy copy; see MetadataStore for the contract. */
export class SpareStore implements MetadataStore {
  private gen: number;
  private checkpointGen: number;
  private writeOffset: number;
  private usedBytes: number;
  private readonly queue: Item[] = [];
  private running: Promise<void> = Promise.resolve();
  private pumping = false;
  private failure: MetadataWriteError | undefined;
  /**
   * Step of the next checkpoint generation. 2 while a member is missing: the missing copy may hold
   * one commit beyond the present ones, so the first commit is a checkpoint that skips past it.
   */
  private generationGap: number;
  private closed = false;
  private readonly setUuid: Uint8Array;
  /** Number of journal batches and checkpoints written (for tests and status). */
  readonly stats = { batches: 0, checkpoints: 0, records: 0 };

  constructor(
    readonly identity: SetIdentity,
    readonly layout: MetadataLayout,
    private readonly table: TableState,
    private readonly handles: CopyHandle[],
    position: JournalPosition,
    private readonly missing: readonly CopyStatus[] = [],
  ) {
    this.gen = position.generation;
    this.checkpointGen = position.checkpointGeneration;
    this.writeOffset = position.writeOffset;
    this.usedBytes = position.usedBytes;
    this.setUuid = uuidToBytes(identity.uuid);
    this.generationGap = missing.length > 0 ? 2 : 1;
    if (!handles.some((c) => c.state === "ok"))
      this.failure = new MetadataWriteError(`set "${identity.name}": no writable metadata copy`);
  }

  get generation(): number {
    return this.gen;
  }

  get wantsCheckpoint(): boolean {
    return this.usedBytes >= this.layout.journalBytes * CHECKPOINT_THRESHOLD;
  }

  /** Why writes are impossible, if they are. */
  get writeFailure(): MetadataWriteError | undefined {
    return this.failure;
  }

  append(records: readonly JournalRecord[]): Promise<void> {
    if (this.closed) return Promise.reject(new MetadataClosedError(this.identity.name));
    let bytes = 0;
    for (const r of records) {
      const problem = recordProblem(r, this.table.limits);
      if (problem) return Promise.reject(new InvalidRecordError(problem));
      bytes += recordBytes(r);
    }
    if (records.length === 0) return Promise.resolve();
    const copy = records.map((r) => (r.type === "lost" ? { ...r, sectorMask: r.sectorMask.slice() } : r));
    return this.enqueue((resolve, reject) => ({ kind: "append", records: copy, bytes, resolve, reject }));
  }

  checkpoint(snapshot: TableSnapshot): Promise<void> {
    if (this.closed) return Promise.reject(new MetadataClosedError(this.identity.name));
    const counters = { ...snapshot.counters };
    return this.enqueue((resolve, reject) => ({ kind: "checkpoint", counters, resolve, reject }));
  }

  copies(): CopyStatus[] {
    const live = this.handles.map((c) => ({
      device: c.device.describe(),
      spareIndex: c.spareIndex,
      slot: c.activeSlot === 0 ? ("A" as const) : c.activeSlot === 1 ? ("B" as const) : ("none" as const),
      generation: c.generation,
      state: c.state,
      ...(c.detail ? { detail: c.detail } : {}),
    }));
    return [...live, ...this.missing].sort((a, b) => a.spareIndex - b.spareIndex);
  }

  async close(): Promise<void> {
    this.closed = true;
    while (this.pumping) await this.running;
  }

  /**
   * Rewrite the superblocks of `superblockCopies`, then write a checkpoint of the current state to
   * every copy in state ok (callers mark the copies to repair ok first). Used by open and check.
   */
  /** Rewrite the given superblocks, then write `checkpoints` checkpoints (2 refills both A/B slots). */
  async repair(superblockCopies: readonly CopyHandle[], checkpoints: 0 | 1 | 2): Promise<void> {
    await this.onCopies(
      superblockCopies,
      (c) => {
        const sb = encodeSuperblock({
          identity: this.identity,
          layout: this.layout,
          spareIndex: c.spareIndex,
        });
        const both = new Uint8Array(sb.length * 2);
        both.set(sb);
        both.set(sb, sb.length);
        return c.device.write(0, both);
      },
      "superblock write",
    );
    for (let i = 0; i < checkpoints; i++) await this.writeCheckpoint(this.table.counters);
    if (checkpoints === 0) await this.onCopies(superblockCopies, (c) => c.device.flush(), "superblock flush");
  }

  private enqueue(make: (resolve: () => void, reject: (e: unknown) => void) => Item): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push(make(resolve, reject));
      if (!this.pumping) {
        this.pumping = true;
        this.running = this.pump();
      }
    });
  }

  private async pump(): Promise<void> {
    try {
      await this.drain();
    } catch (err) {
      // Only a bug gets here; fail what is queued instead of stranding it.
      this.pumping = false;
      for (const item of this.queue.splice(0)) item.reject(err);
    }
  }

  private async drain(): Promise<void> {
    while (true) {
      if (this.queue.length === 0) {
        // Cleared in the same microtask that sees the queue empty, so no item is ever stranded.
        this.pumping = false;
        return;
      }
      if (this.failure) {
        for (const item of this.queue.splice(0)) item.reject(this.failure);
        continue;
      }
      if (this.queue[0]!.kind === "checkpoint") {
        let n = 0;
        while (n < this.queue.length && this.queue[n]!.kind === "checkpoint") n++;
        const items = this.queue.splice(0, n);
        await settle(items, () =>
          this.writeCheckpoint((items[n - 1] as { counters: Record<string, number> }).counters),
        );
        continue;
      }
      const maxPayload = this.layout.journalBytes / 4 - BATCH_HEADER_BYTES;
      const taken: Item[] = [];
      let payload = 0;
      while (this.queue.length > 0 && this.queue[0]!.kind === "append") {
        const item = this.queue[0] as Extract<Item, { kind: "append" }>;
        if (taken.length > 0 && payload + item.bytes > maxPayload) break;
        taken.push(this.queue.shift()!);
        payload += item.bytes;
      }
      const kept: Extract<Item, { kind: "append" }>[] = [];
      for (const item of taken as Extract<Item, { kind: "append" }>[]) {
        const problem = this.table.apply(item.records);
        if (problem) item.reject(new MetadataCapacityError(`set "${this.identity.name}": ${problem}`));
        else kept.push(item);
      }
      if (kept.length > 0) await settle(kept, () => this.commit(kept.flatMap((i) => i.records)));
    }
  }

  /** Make applied `records` durable: one journal batch, or a checkpoint when the ring is full. */
  private async commit(records: JournalRecord[]): Promise<void> {
    let payloadBytes = 0;
    for (const r of records) payloadBytes += recordBytes(r);
    const batchBytes = roundUp(BATCH_HEADER_BYTES + payloadBytes, 512);
    const ring = this.layout.journalBytes;
    const wraps = this.writeOffset + batchBytes > ring;
    const waste = wraps ? ring - this.writeOffset : 0;
    if (this.usedBytes + waste + batchBytes > ring || this.generationGap > 1) {
      await this.writeCheckpoint(this.table.counters);
      return;
    }
    const batch = encodeBatch(this.setUuid, this.gen + 1, this.checkpointGen, records);
    const at = wraps ? 0 : this.writeOffset;
    const handles = this.healthy();
    await this.onCopies(
      handles,
      (c) => c.device.write(journalOffset(this.layout) + at, batch),
      "journal write",
    );
    await this.onCopies(this.healthy(), (c) => c.device.flush(), "journal flush");
    this.gen++;
    this.writeOffset = at + batch.length;
    this.usedBytes += waste + batch.length;
    for (const c of this.healthy()) c.generation = this.gen;
    this.stats.batches++;
    this.stats.records += records.length;
  }

  /** Write the whole table to the inactive slot of every healthy copy, flush, restart the journal. */
  private async writeCheckpoint(counters: Record<string, number>): Promise<void> {
    const snapshot = { ...this.table.snapshot(), counters };
    const body = encodeBody(snapshot, this.layout);
    const gen = this.gen + this.generationGap;
    const target = new Map<CopyHandle, 0 | 1>();
    await this.onCopies(
      this.healthy(),
      (c) => {
        const slot = c.activeSlot === 0 ? 1 : 0;
        target.set(c, slot);
        const image = encodeSlot(body, this.setUuid, gen, c.spareIndex, this.writeOffset);
        return c.device.write(slotOffset(this.layout, slot), image);
      },
      "checkpoint write",
    );
    await this.onCopies(this.healthy(), (c) => c.device.flush(), "checkpoint flush");
    for (const c of this.healthy()) {
      c.activeSlot = target.get(c)!;
      c.generation = gen;
    }
    this.gen = gen;
    this.checkpointGen = gen;
    this.usedBytes = 0;
    this.generationGap = 1;
    this.table.rebase(snapshot);
    this.stats.checkpoints++;
  }

  private healthy(): CopyHandle[] {
    return this.handles.filter((c) => c.state === "ok");
  }

  /** Run `op` on every copy; a copy whose op fails is failed for good; no copy left -> MetadataWriteError. */
  private async onCopies(
    copies: readonly CopyHandle[],
    op: (c: CopyHandle) => Promise<void>,
    what: string,
  ): Promise<void> {
    const errors: unknown[] = [];
    await Promise.all(
      copies.map(async (c) => {
        try {
          await op(c);
        } catch (err) {
          c.state = "failed";
          c.detail = `${what} failed: ${err instanceof Error ? err.message : String(err)}`;
          errors.push(err);
        }
      }),
    );
    if (errors.length > 0 && !this.handles.some((c) => c.state === "ok")) {
      this.failure ??= new MetadataWriteError(
        `set "${this.identity.name}": ${what} failed on every metadata copy; the set is read-only`,
        { cause: errors[0] },
      );
      throw this.failure;
    }
  }
}

async function settle(
  items: readonly { resolve: () => void; reject: (e: unknown) => void }[],
  run: () => Promise<void>,
): Promise<void> {
  try {
    await run();
    for (const i of items) i.resolve();
  } catch (err) {
    for (const i of items) i.reject(err);
  }
}
