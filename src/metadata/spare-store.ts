// The MetadataStore over the copies on every spare: group commit of journal batches, checkpoints
// written end by end (head, flush, tail, flush), relocation of a structure whose write fails, and
// per-copy failure tracking (docs/FORMAT.md "Commit protocol").
import type { BlockDevice } from "../block/block-device.js";
import type {
  CopyStatus,
  JournalRecord,
  MetadataStore,
  SetIdentity,
  TableSnapshot,
} from "./metadata-store.js";
import { type EncodedBody, encodeBody, encodeSlot } from "./checkpoint-codec.js";
import {
  BATCH_HEADER_BYTES,
  type End,
  type EndGeometry,
  ENDS,
  type MetadataLayout,
  SUPERBLOCK_BYTES,
  endGeometry,
  roundUp,
  uuidToBytes,
} from "./layout.js";
import { encodeBatch, recordBytes } from "./journal-codec.js";
import { type Relocation, encodeSuperblock } from "./superblock.js";
import type { TableState } from "./table-state.js";
import type { DeviceIdentity } from "../block/device-identity.js";
import { type SetRecord, encodeSetRecord } from "./main-identity.js";
import { recordProblem } from "./table-state.js";
import {
  InvalidRecordError,
  MetadataCapacityError,
  MetadataClosedError,
  MetadataWriteError,
} from "./errors.js";

/** One end (head or tail) of one copy: a complete metadata copy of its own. */
export interface EndHandle {
  readonly geometry: EndGeometry;
  /** False once a write failed there and nothing could be relocated: never written again. */
  ok: boolean;
  generation: number;
  detail?: string;
}

/** One metadata copy (one spare) as the store tracks it. */
export interface CopyHandle {
  readonly device: BlockDevice;
  readonly spareIndex: number;
  /** End holding the newest state on this copy: 0 head (slot "A"), 1 tail (slot "B"), -1 none. */
  activeSlot: 0 | 1 | -1;
  generation: number;
  state: CopyStatus["state"];
  detail?: string;
  /** Which structure of each end lives in that end's relocation area. */
  readonly relocations: Record<End, Relocation>;
  readonly ends: Record<End, EndHandle>;
}

/** A fresh copy handle for `device` (both ends ok). */
export function copyHandle(
  device: BlockDevice,
  spareIndex: number,
  layout: MetadataLayout,
  spareBytes: number,
  generation: number,
  relocations: Record<End, Relocation> = { head: "none", tail: "none" },
): CopyHandle {
  const end = (e: End): EndHandle => ({ geometry: endGeometry(layout, e, spareBytes), ok: true, generation });
  return {
    device,
    spareIndex,
    activeSlot: 0,
    generation,
    state: "ok",
    relocations: { ...relocations },
    ends: { head: end("head"), tail: end("tail") },
  };
}

/** What SpareStore.exclusive hands to a membership change. */
export interface ExclusiveAccess {
  /** Write a checkpoint of the store's table to every healthy end now (journal restarts). */
  checkpoint(): Promise<void>;
  snapshot(): TableSnapshot;
  record(): SetRecord;
  generation(): number;
  /** Copies in state ok. */
  members(): readonly CopyHandle[];
  /** Number of members the set runs without. */
  missing(): number;
  /** Spare indexes of the members the set runs without (degraded). */
  missingIndexes(): readonly number[];
  /** Take `handle` (already written, at the current generation) as a member under `identity`. */
  adoptMember(identity: SetIdentity, handle: CopyHandle, spec: string): void;
  /** Stop writing the last member: the set is `identity` (one spare fewer) from now on. */
  dropLastMember(identity: SetIdentity): void;
  /** Stop writing member `index`: the set is `identity` (that spare a tombstone) from now on. */
  tombstoneMember(identity: SetIdentity, index: number): void;
}

/** Where the journal stands, as recovered on open. */
export interface JournalPosition {
  readonly generation: number;
  readonly checkpointGeneration: number;
  readonly writeOffset: number;
  readonly usedBytes: number;
}

const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

type Item =
  | {
      kind: "append";
      records: readonly JournalRecord[];
      bytes: number;
      resolve: () => void;
      reject: (e: unknown) => void;
    }
  | {
      kind: "exclusive";
      run: () => Promise<void>;
      resolve: () => void;
      reject: (e: unknown) => void;
    }
  | {
      kind: "checkpoint";
      counters: Record<string, number>;
      /** A new set record to commit with this checkpoint. */
      record?: SetRecord;
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
  /** The set record (main identity, spare names), written into every checkpoint. */
  private record: SetRecord;
  /** Number of journal batches, checkpoints and relocations (for tests and status). */
  readonly stats = { batches: 0, checkpoints: 0, records: 0, relocations: 0 };

  constructor(
    /** Changes only when a spare is added (adoptMember). */
    public identity: SetIdentity,
    readonly layout: MetadataLayout,
    private readonly table: TableState,
    private readonly handles: CopyHandle[],
    position: JournalPosition,
    private missing: readonly CopyStatus[] = [],
    record: SetRecord = { spares: [] },
  ) {
    this.record = record;
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

  /** Identity of the main device committed with the newest checkpoint (undefined: none recorded). */
  get mainIdentity(): DeviceIdentity | undefined {
    return this.record.main;
  }

  /** Spares recorded as being drained, from the newest checkpoint. */
  get drainingSpares(): readonly number[] {
    return this.record.draining ?? [];
  }

  /** Record which spares are being drained (one checkpoint): allocation keeps avoiding them after a restart. */
  commitDraining(draining: readonly number[]): Promise<void> {
    if (this.closed) return Promise.reject(new MetadataClosedError(this.identity.name));
    const counters = { ...this.table.counters };
    const { draining: _old, ...rest } = this.record;
    const record = draining.length > 0 ? { ...rest, draining: [...draining].sort((a, b) => a - b) } : rest;
    return this.enqueue((resolve, reject) => ({ kind: "checkpoint", counters, record, resolve, reject }));
  }

  /**
   * Record that the main device is now `main` (e.g. copied to a new disk): one checkpoint, so a
   * crash leaves either the old or the new identity, never a mix.
   */
  commitMainIdentity(main: DeviceIdentity): Promise<void> {
    if (this.closed) return Promise.reject(new MetadataClosedError(this.identity.name));
    encodeSetRecord({ ...this.record, main });
    const counters = { ...this.table.counters };
    const record = { ...this.record, main };
    return this.enqueue((resolve, reject) => ({ kind: "checkpoint", counters, record, resolve, reject }));
  }

  /**
   * Run `step` alone, between two commits (appends and checkpoints queued meanwhile wait): membership
   * changes (src/metadata/membership.ts). `step` gets the store's own state and a checkpoint writer.
   */
  exclusive<T>(step: (access: ExclusiveAccess) => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new MetadataClosedError(this.identity.name));
    let result: T;
    const access: ExclusiveAccess = {
      checkpoint: () => this.writeCheckpoint(this.table.counters),
      snapshot: () => ({ ...this.table.snapshot(), counters: { ...this.table.counters } }),
      record: () => this.record,
      generation: () => this.gen,
      members: () => this.handles.filter((c) => c.state === "ok"),
      missing: () => this.missing.length,
      missingIndexes: () => this.missing.map((m) => m.spareIndex),
      adoptMember: (identity, handle, spec) => {
        this.identity = identity;
        this.handles.push(handle);
        // The table accepts the new spare's slots (the limits object is this store's own).
        const last = identity.spares[identity.spares.length - 1]!;
        (this.table.limits as { slotCount: number }).slotCount = last.firstSlot + last.slotCount;
        this.record = { ...this.record, spares: [...this.record.spares, spec] };
      },
      dropLastMember: (identity) => {
        const index = identity.spares.length;
        const at = this.handles.findIndex((c) => c.spareIndex === index);
        if (at >= 0) this.handles.splice(at, 1);
        this.identity = identity;
        const last = identity.spares[index - 1]!;
        (this.table.limits as { slotCount: number }).slotCount = last.firstSlot + last.slotCount;
        const draining = (this.record.draining ?? []).filter((i) => i < index);
        this.record = { ...this.record, spares: this.record.spares.slice(0, index), draining };
      },
      tombstoneMember: (identity, index) => {
        const at = this.handles.findIndex((c) => c.spareIndex === index);
        if (at >= 0) this.handles.splice(at, 1);
        // A missing member removed as such is no longer missing: it is no member at all.
        this.missing = this.missing.filter((m) => m.spareIndex !== index);
        this.identity = identity;
        const draining = (this.record.draining ?? []).filter((i) => i !== index);
        const spares = this.record.spares.map((s, i) => (i === index ? null : s));
        this.record = { ...this.record, spares, draining };
      },
    };
    return this.enqueue((resolve, reject) => ({
      kind: "exclusive",
      run: async () => {
        result = await step(access);
      },
      resolve,
      reject,
    })).then(() => result);
  }

  copies(): CopyStatus[] {
    const live = this.handles.map((c) => {
      const relocated = ENDS.filter((e) => c.relocations[e] !== "none").map(
        (e) => `${e} ${c.relocations[e] === "slot" ? "checkpoint slot" : "journal"}`,
      );
      const ends = ENDS.filter((e) => !c.ends[e].ok).map((e) => `${e} end failed: ${c.ends[e].detail ?? ""}`);
      const moved = relocated.length > 0 ? [`moved to the relocation area: ${relocated.join(", ")}`] : [];
      const detail = [...(c.detail ? [c.detail] : []), ...ends, ...moved].join("; ");
      return {
        device: c.device.describe(),
        spareIndex: c.spareIndex,
        slot: c.activeSlot === 0 ? ("A" as const) : c.activeSlot === 1 ? ("B" as const) : ("none" as const),
        generation: c.generation,
        state: c.state,
        ...(detail ? { detail } : {}),
        ...(relocated.length > 0 ? { relocated } : {}),
      };
    });
    return [...live, ...this.missing].sort((a, b) => a.spareIndex - b.spareIndex);
  }

  async close(): Promise<void> {
    this.closed = true;
    while (this.pumping) await this.running;
  }

  /**
   * Rewrite both ends' superblocks of `superblockCopies`, then (with `checkpoint`) write a checkpoint
   * of the current state to both ends of every copy in state ok (callers mark the copies to repair
   * ok first). Used by open and check.
   */
  async repair(superblockCopies: readonly CopyHandle[], checkpoint: boolean): Promise<void> {
    await this.writeSuperblocks(superblockCopies.filter((c) => c.state === "ok"));
    if (checkpoint) await this.writeCheckpoint(this.table.counters);
    else await this.onCopies(superblockCopies, (c) => c.device.flush(), "superblock flush");
  }

  /** Write both superblock pairs of each copy; an end that cannot be written is noted, not fatal. */
  private async writeSuperblocks(copies: readonly CopyHandle[]): Promise<void> {
    await Promise.all(
      copies.map(async (c) => {
        const sb = encodeSuperblock({
          identity: this.identity,
          layout: this.layout,
          spareIndex: c.spareIndex,
          relocations: { ...c.relocations },
        });
        const both = new Uint8Array(2 * SUPERBLOCK_BYTES);
        both.set(sb);
        both.set(sb, SUPERBLOCK_BYTES);
        const failed: string[] = [];
        for (const end of ENDS) {
          const at = c.ends[end].geometry.superblocks[0];
          await c.device.write(at, both).catch((err: unknown) => failed.push(`${end}: ${messageOf(err)}`));
        }
        if (failed.length === ENDS.length) {
          c.state = "failed";
          c.detail = `superblock write failed (${failed.join("; ")})`;
        } else if (failed.length > 0) c.detail = `superblock write failed at the ${failed.join("; ")}`;
      }),
    );
    this.checkAnyCopy("superblock write", undefined);
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
      if (this.queue[0]!.kind === "exclusive") {
        const item = this.queue.shift() as Extract<Item, { kind: "exclusive" }>;
        await settle([item], item.run);
        continue;
      }
      if (this.queue[0]!.kind === "checkpoint") {
        let n = 0;
        while (n < this.queue.length && this.queue[n]!.kind === "checkpoint") n++;
        const items = this.queue.splice(0, n);
        const last = items[n - 1] as Extract<Item, { kind: "checkpoint" }>;
        const record = items.reduce<SetRecord | undefined>(
          (r, i) => (i as Extract<Item, { kind: "checkpoint" }>).record ?? r,
          undefined,
        );
        await settle(items, () => this.writeCheckpoint(last.counters, record));
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
      if (kept.length > 0) await settle(kept, () => this.commit(recordsOf(kept)));
    }
  }

  /** Make applied `records` durable: one journal batch, or a checkpoint when the ring is full. */
  private async commit(records: readonly JournalRecord[]): Promise<void> {
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
    const failedEnds: [CopyHandle, End, unknown][] = [];
    const wrote = new Set<CopyHandle>();
    let written = 0;
    await Promise.all(
      this.healthyEnds().map(async ([c, end]) => {
        try {
          await c.device.write(this.ringOffset(c, end) + at, batch);
          written++;
          wrote.add(c);
        } catch (err) {
          failedEnds.push([c, end, err]);
        }
      }),
    );
    if (written === 0 && !failedEnds.some(([c, end]) => this.canRelocate(c, end, "journal"))) {
      this.checkAnyCopy("journal write", failedEnds[0]?.[2], true);
    }
    await this.onCopies(this.healthy(), (c) => c.device.flush(), "journal flush");
    this.gen++;
    this.writeOffset = at + batch.length;
    this.usedBytes += waste + batch.length;
    const missed = new Set(failedEnds.map(([c, end]) => `${c.spareIndex}:${end}`));
    for (const c of this.healthy()) {
      if (!wrote.has(c)) continue;
      c.generation = this.gen;
      for (const end of ENDS)
        if (c.ends[end].ok && !missed.has(`${c.spareIndex}:${end}`)) c.ends[end].generation = this.gen;
    }
    this.stats.batches++;
    this.stats.records += records.length;
    if (failedEnds.length === 0) return;
    // An end that missed the batch moves its journal to its relocation area (or is failed), and a
    // checkpoint (holding these records too) brings every end up to date.
    for (const [c, end, err] of failedEnds) {
      if (this.canRelocate(c, end, "journal")) {
        c.relocations[end] = "journal";
        c.ends[end].detail = `journal write failed (${messageOf(err)}): journal moved to the relocation area`;
        this.stats.relocations++;
      } else this.failEnd(c, end, `journal write failed: ${messageOf(err)}`);
    }
    await this.writeCheckpoint(this.table.counters);
  }

  /** Ring offset of `end` of copy `c` (its journal, or its relocation area once the journal moved). */
  private ringOffset(c: CopyHandle, end: End): number {
    const g = c.ends[end].geometry;
    return c.relocations[end] === "journal" ? g.reloc : g.journal;
  }

  /** True when `what` of `end` can still move to that end's (unused, large enough) relocation area. */
  private canRelocate(c: CopyHandle, end: End, what: "slot" | "journal"): boolean {
    const need = what === "slot" ? this.layout.checkpointSlotBytes : this.layout.journalBytes;
    return c.relocations[end] === "none" && c.ends[end].ok && c.ends[end].geometry.relocBytes >= need;
  }

  /** Stop writing `end` of `c`; the copy fails when neither end is left. */
  private failEnd(c: CopyHandle, end: End, why: string): void {
    c.ends[end].ok = false;
    c.ends[end].detail = why;
    if (!ENDS.some((e) => c.ends[e].ok) && c.state === "ok") {
      c.state = "failed";
      c.detail = `both ends failed (${ENDS.map((e) => c.ends[e].detail).join("; ")})`;
    }
  }

  /**
   * Write the whole table to the checkpoint slot of every healthy end, in phases with a flush after
   * each, so that a crash always leaves an end holding the newest state (old or new): first the ends
   * that do not hold the current state, then the others; when every end is current, first every
   * head, then every tail. Then restart the journal.
   */
  private async writeCheckpoint(counters: Record<string, number>, newRecord?: SetRecord): Promise<void> {
    const snapshot = { ...this.table.snapshot(), counters };
    const record = newRecord ?? this.record;
    const body = encodeBody(snapshot, this.layout, encodeSetRecord(record));
    const gen = this.gen + this.generationGap;
    const moved = new Set<CopyHandle>();
    let done = 0;
    let firstError: unknown;
    const pairs = this.healthyEnds();
    const behind = pairs.filter(([c, e]) => c.ends[e].generation !== this.gen);
    const current = pairs.filter(([c, e]) => c.ends[e].generation === this.gen);
    const byEnd = (list: [CopyHandle, End][]) => ENDS.map((end) => list.filter(([, e]) => e === end));
    const phases = behind.length > 0 ? [behind, current] : byEnd(current);
    for (const [k, phase] of phases.entries()) {
      // Nothing of the first phase became durable: fall back to one end at a time.
      const steps = k === 1 && behind.length > 0 && done === 0 ? byEnd(phase) : [phase];
      for (const step of steps) {
        const live = step.filter(([c, e]) => c.state === "ok" && c.ends[e].ok);
        await Promise.all(
          live.map(async ([c, end]) => {
            const error = await this.writeSlot(c, end, body, gen, moved);
            if (error !== undefined) firstError ??= error;
          }),
        );
        const copies = [...new Set(live.filter(([c, e]) => c.ends[e].ok).map(([c]) => c))];
        await this.onCopies(copies, (c) => c.device.flush(), "checkpoint flush");
        for (const [c, end] of live) {
          if (c.state !== "ok" || !c.ends[end].ok) continue;
          c.ends[end].generation = gen;
          c.generation = gen;
          c.activeSlot = end === "head" ? 0 : 1;
          done++;
        }
      }
    }
    if (done === 0) this.checkAnyCopy("checkpoint write", firstError, true);
    this.gen = gen;
    this.checkpointGen = gen;
    this.writeOffset = 0;
    this.usedBytes = 0;
    this.generationGap = 1;
    this.record = record;
    this.table.rebase(snapshot);
    this.stats.checkpoints++;
    // Record the moves in the superblocks too (the checkpoint headers already carry them).
    if (moved.size > 0) await this.writeSuperblocks([...moved]).catch(() => undefined);
  }

  /** Write one end's slot image, relocating it when its place fails; returns the error if the end failed. */
  private async writeSlot(
    c: CopyHandle,
    end: End,
    body: EncodedBody,
    gen: number,
    moved: Set<CopyHandle>,
  ): Promise<unknown> {
    const g = c.ends[end].geometry;
    const image = () =>
      encodeSlot(
        body,
        this.setUuid,
        gen,
        { spareIndex: c.spareIndex, end, relocations: { ...c.relocations } },
        0,
      );
    try {
      await c.device.write(c.relocations[end] === "slot" ? g.reloc : g.slot, image());
      return undefined;
    } catch (err) {
      if (!this.canRelocate(c, end, "slot")) {
        this.failEnd(c, end, `checkpoint write failed: ${messageOf(err)}`);
        return err;
      }
      c.relocations[end] = "slot";
      this.stats.relocations++;
      moved.add(c);
      try {
        await c.device.write(g.reloc, image());
        return undefined;
      } catch (again) {
        this.failEnd(c, end, `checkpoint write failed, also in the relocation area: ${messageOf(again)}`);
        return again;
      }
    }
  }

  /** Healthy (copy, end) pairs. */
  private healthyEnds(): [CopyHandle, End][] {
    return this.healthy().flatMap((c) =>
      ENDS.filter((e) => c.ends[e].ok).map((e) => [c, e] as [CopyHandle, End]),
    );
  }

  /** Throw MetadataWriteError when no copy is left (or when `none` says nothing was written). */
  private checkAnyCopy(what: string, cause: unknown, none = false): void {
    if (!none && this.handles.some((c) => c.state === "ok")) return;
    this.failure ??= new MetadataWriteError(
      `set "${this.identity.name}": ${what} failed on every metadata copy; the set is read-only`,
      { cause },
    );
    throw this.failure;
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

/** The records of `items` in order, as one array (the first item's own array when it is alone). */
function recordsOf(
  items: readonly { readonly records: readonly JournalRecord[] }[],
): readonly JournalRecord[] {
  if (items.length === 1) return items[0]!.records;
  const all: JournalRecord[] = [];
  for (const item of items) for (const r of item.records) all.push(r);
  return all;
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
