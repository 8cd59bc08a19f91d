// Test-only in-memory MetadataStore: durable state = last checkpoint + appended journal, with
// injectable append/checkpoint failures, call counters, and reopen() to simulate a restart.
import { InvalidRecordError, MetadataClosedError, MetadataWriteError } from "../../metadata/errors.js";
import { maskBytesFor } from "../../metadata/layout.js";
import { emptySnapshot, recordProblem, type TableLimits } from "../../metadata/table-state.js";
import type {
  CopyStatus,
  JournalRecord,
  MetadataStore,
  OpenedSet,
  SetIdentity,
  SpareIdentity,
  TableSnapshot,
} from "../../metadata/metadata-store.js";
import { NO_MIRROR } from "../../metadata/metadata-store.js";

/** Durable state shared by every store opened on the same "disks". */
export interface MemoryDurable {
  identity: SetIdentity;
  base: TableSnapshot;
  journal: JournalRecord[];
  generation: number;
}

/** Apply journal records to a snapshot (what a real store does on open). */
export function replay(base: TableSnapshot, records: readonly JournalRecord[]): TableSnapshot {
  const remaps = new Map<number, number>();
  base.blocks.forEach((b, i) => remaps.set(b, base.slots[i]!));
  const pending = new Set(base.pending);
  const lost = new Map(base.lost);
  const mirrors = new Map<number, number>();
  base.mirrors?.blocks.forEach((b, i) => mirrors.set(b, base.mirrors!.slots[i]!));
  for (const r of records) {
    if (r.type === "remap") remaps.set(r.block, r.slot);
    else if (r.type === "unremap") {
      remaps.delete(r.block);
      lost.delete(r.block);
      mirrors.delete(r.block);
    } else if (r.type === "mirror") {
      if (r.slot === NO_MIRROR) mirrors.delete(r.block);
      else mirrors.set(r.block, r.slot);
    } else if (r.type === "pending") pending.add(r.block);
    else if (r.type === "clear-pending") pending.delete(r.block);
    else if (r.sectorMask.every((b) => b === 0)) lost.delete(r.block);
    else lost.set(r.block, Uint8Array.from(r.sectorMask));
  }
  const blocks = Float64Array.from([...remaps.keys()].sort((a, b) => a - b));
  const mirrorBlocks = Float64Array.from([...mirrors.keys()].sort((a, b) => a - b));
  return {
    blocks,
    slots: Uint32Array.from(blocks, (b) => remaps.get(b)!),
    pending: Float64Array.from([...pending].sort((a, b) => a - b)),
    lost,
    counters: { ...base.counters },
    ...(mirrors.size > 0
      ? { mirrors: { blocks: mirrorBlocks, slots: Uint32Array.from(mirrorBlocks, (b) => mirrors.get(b)!) } }
      : {}),
  };
}

/** In-memory store with fault injection for unit tests. */
export class MemoryMetadataStore implements MetadataStore {
  appendCalls = 0;
  checkpointCalls = 0;
  /** Durable flushes performed (one per append or checkpoint). */
  flushes = 0;
  /** Fail every append while true. */
  failAppends = false;
  /** Fail every checkpoint while true. */
  failCheckpoints = false;
  /** wantsCheckpoint turns true once the journal holds this many records. */
  checkpointThreshold = Infinity;
  /** Called at the start of every append (tests use it to interleave work). */
  onAppend: ((records: readonly JournalRecord[]) => Promise<void> | void) | undefined;
  closed = false;
  private failed = false;

  private readonly limits: TableLimits;

  constructor(readonly durable: MemoryDurable) {
    const { blockSize, mainSizeBytes, spares } = durable.identity;
    this.limits = {
      blockCount: Math.ceil(mainSizeBytes / blockSize),
      slotCount: spares.reduce((n, s) => n + s.slotCount, 0),
      maxEntries: Infinity,
      pendingCapacity: Infinity,
      maskBytes: maskBytesFor(blockSize),
    };
  }

  get identity(): SetIdentity {
    return this.durable.identity;
  }

  get generation(): number {
    return this.durable.generation;
  }

  get wantsCheckpoint(): boolean {
    return this.durable.journal.length >= this.checkpointThreshold;
  }

  async append(records: readonly JournalRecord[]): Promise<void> {
    if (this.closed) throw new MetadataClosedError(this.durable.identity.name);
    for (const r of records) {
      const problem = recordProblem(r, this.limits);
      if (problem) throw new InvalidRecordError(problem);
    }
    if (records.length === 0) return;
    this.appendCalls++;
    await this.onAppend?.(records);
    await Promise.resolve();
    if (this.failAppends || this.failed) {
      this.failed = true;
      throw new MetadataWriteError("injected append failure");
    }
    this.durable.journal.push(...records.map(cloneRecord));
    this.durable.generation++;
    this.flushes++;
  }

  async checkpoint(snapshot: TableSnapshot): Promise<void> {
    if (this.closed) throw new MetadataClosedError(this.durable.identity.name);
    this.checkpointCalls++;
    await Promise.resolve();
    if (this.failCheckpoints || this.failed) {
      this.failed = true;
      throw new MetadataWriteError("injected checkpoint failure");
    }
    // As the real store: the table written is the store's own, only the counters come from the caller.
    this.durable.base = {
      ...replay(this.durable.base, this.durable.journal),
      counters: { ...snapshot.counters },
    };
    this.durable.journal = [];
    this.durable.generation++;
    this.flushes++;
  }

  copies(): CopyStatus[] {
    return [
      {
        device: "memory",
        spareIndex: 0,
        slot: "A",
        generation: this.durable.generation,
        state: this.failed ? "failed" : "ok",
      },
    ];
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

function cloneRecord(r: JournalRecord): JournalRecord {
  return r.type === "lost" ? { ...r, sectorMask: Uint8Array.from(r.sectorMask) } : { ...r };
}

/** Options of createMemorySet. */
export interface MemorySetOptions {
  readonly blockSize: number;
  readonly mainSizeBytes: number;
  /** Slot count of each spare. */
  readonly spareSlots: readonly number[];
  /** Metadata area at the start of each spare, in bytes (default one block). */
  readonly dataOffsetBytes?: number;
  readonly name?: string;
  /** 2: a mirrored set (every remapped block on two spares). */
  readonly mirrorCopies?: 2;
}

/** A fresh set identity and an OpenedSet on a new memory store. */
export function createMemorySet(options: MemorySetOptions): { durable: MemoryDurable; opened: OpenedSet } {
  const dataOffsetBytes = options.dataOffsetBytes ?? options.blockSize;
  let firstSlot = 0;
  const spares: SpareIdentity[] = options.spareSlots.map((slotCount, index) => {
    const spare = {
      uuid: `spare-${index}`,
      index,
      sizeBytes: dataOffsetBytes + slotCount * options.blockSize,
      dataOffsetBytes,
      slotCount,
      firstSlot,
    };
    firstSlot += slotCount;
    return spare;
  });
  const identity: SetIdentity = {
    uuid: "00000000-0000-4000-8000-000000000001",
    name: options.name ?? "test",
    blockSize: options.blockSize,
    mainSizeBytes: options.mainSizeBytes,
    mainFingerprint: "00",
    spares,
    createdAtMs: 0,
    ...(options.mirrorCopies === 2 ? { mirrorCopies: 2 as const } : {}),
  };
  const durable: MemoryDurable = { identity, base: emptySnapshot(), journal: [], generation: 1 };
  return { durable, opened: reopenMemorySet(durable) };
}

/** Open the durable state again, as after a restart or crash. */
export function reopenMemorySet(durable: MemoryDurable): OpenedSet & { store: MemoryMetadataStore } {
  return {
    store: new MemoryMetadataStore(durable),
    snapshot: replay(durable.base, durable.journal),
    notes: [],
  };
}
