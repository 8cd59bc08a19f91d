// The store's own view of the table: the last checkpoint (sorted typed arrays) plus an overlay of
// the journal records applied since, materialized into a fresh TableSnapshot when needed.
import { NO_MIRROR, type JournalRecord, type TableSnapshot } from "./metadata-store.js";

/** Bounds a record or table must respect. */
export interface TableLimits {
  /** Exclusive upper bound of block numbers (blocks of main). */
  readonly blockCount: number;
  /** Exclusive upper bound of global slot numbers. */
  readonly slotCount: number;
  readonly maxEntries: number;
  readonly pendingCapacity: number;
  readonly maskBytes: number;
}

/** An empty snapshot. */
export function emptySnapshot(): TableSnapshot {
  return {
    blocks: new Float64Array(0),
    slots: new Uint32Array(0),
    pending: new Float64Array(0),
    lost: new Map(),
    counters: {},
  };
}

/** Why a record is malformed, or undefined when it is fine. */
export function recordProblem(r: JournalRecord, limits: TableLimits): string | undefined {
  if (!Number.isSafeInteger(r.block) || r.block < 0 || r.block >= limits.blockCount) {
    return `${r.type} record: block ${r.block} is outside the main device (0..${limits.blockCount - 1})`;
  }
  if (r.type === "remap" && (!Number.isInteger(r.slot) || r.slot < 0 || r.slot >= limits.slotCount)) {
    return `remap record: slot ${r.slot} does not exist (0..${limits.slotCount - 1})`;
  }
  if (r.type === "mirror" && r.slot !== NO_MIRROR) {
    if (!Number.isInteger(r.slot) || r.slot < 0 || r.slot >= limits.slotCount)
      return `mirror record: slot ${r.slot} does not exist (0..${limits.slotCount - 1})`;
  }
  if (r.type === "lost" && r.sectorMask.length !== limits.maskBytes) {
    return `lost record: mask of block ${r.block} has ${r.sectorMask.length} bytes, expected ${limits.maskBytes}`;
  }
  return undefined;
}

function search(sorted: Float64Array, value: number): number {
  let lo = 0;
  let hi = sorted.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const v = sorted[mid]!;
    if (v === value) return mid;
    if (v < value) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

const NO_MIRRORS = { blocks: new Float64Array(0), slots: new Uint32Array(0) };

/** Base snapshot + overlay; records are assignments, so replaying one twice is harmless. */
export class TableState {
  private base!: TableSnapshot;
  /** True once base.slots is this state's own copy (written in place by remaps of base blocks). */
  private baseSlotsOwned = false;
  /** block -> slot, or -1 when unremapped since the base. */
  private overlay = new Map<number, number>();
  private pending = new Set<number>();
  private lost = new Map<number, Uint8Array>();
  /** Second copies (mirrored sets) since the base: block -> slot, or NO_MIRROR when dropped. */
  private mirrorOverlay = new Map<number, number>();
  private mirrorBase: { blocks: Float64Array; slots: Uint32Array } = NO_MIRRORS;
  private mirrorCount = 0;
  counters: Record<string, number> = {};
  entryCount = 0;

  constructor(
    snapshot: TableSnapshot,
    readonly limits: TableLimits,
  ) {
    this.rebase(snapshot);
  }

  /** Replace the base by `snapshot` (after a checkpoint) and drop the overlay. */
  rebase(snapshot: TableSnapshot): void {
    this.base = snapshot;
    this.baseSlotsOwned = false;
    this.overlay.clear();
    this.pending = new Set(snapshot.pending);
    this.lost = new Map(snapshot.lost);
    this.mirrorOverlay.clear();
    this.mirrorBase = snapshot.mirrors ?? NO_MIRRORS;
    this.mirrorCount = this.mirrorBase.blocks.length;
    this.counters = { ...snapshot.counters };
    this.entryCount = snapshot.blocks.length;
  }

  /** Records applied since the base (overlay size). */
  get overlaySize(): number {
    return this.overlay.size;
  }

  slotOf(block: number): number {
    const o = this.overlay.get(block);
    return o !== undefined ? o : this.baseSlotOf(block);
  }

  /** Slot of `block` in the base (the last checkpoint), or -1. */
  private baseSlotOf(block: number): number {
    const i = search(this.base.blocks, block);
    return i < 0 ? -1 : this.base.slots[i]!;
  }

  /**
   * Apply records in order; when a capacity would be exceeded, undo them all and return the reason.
   * Records must have been validated with recordProblem().
   */
  apply(records: readonly JournalRecord[]): string | undefined {
    const l0 = this.limits;
    const n = records.length;
    // Undo bookkeeping only when this batch could overflow a capacity (keeps huge batches cheap).
    const mayOverflow =
      this.entryCount + n > l0.maxEntries ||
      this.pending.size + n > l0.pendingCapacity ||
      this.lost.size + n > l0.maxEntries;
    const undo: (() => void)[] | undefined = mayOverflow ? [] : undefined;
    for (const r of records) this.applyOne(r, undo);
    const l = l0;
    let problem: string | undefined;
    if (this.entryCount > l.maxEntries)
      problem = `${this.entryCount} remapped blocks exceed the capacity of ${l.maxEntries}`;
    else if (this.pending.size > l.pendingCapacity)
      problem = `${this.pending.size} pending blocks exceed the capacity of ${l.pendingCapacity}`;
    else if (this.lost.size > l.maxEntries)
      problem = `${this.lost.size} lost-sector entries exceed the capacity of ${l.maxEntries}`;
    if (problem && undo) for (let i = undo.length - 1; i >= 0; i--) undo[i]!();
    return problem;
  }

  private applyOne(r: JournalRecord, undo: (() => void)[] | undefined): void {
    const b = r.block;
    switch (r.type) {
      case "remap":
      case "unremap": {
        // A block of the base that moves to another slot (a drain) changes its base entry in place:
        // no overlay entry, so the next checkpoint's merge stays a copy.
        if (r.type === "remap" && this.moveInBase(b, r.slot, undo)) return;
        const prevOverlay = this.overlay.get(b);
        const before = prevOverlay ?? this.baseSlotOf(b);
        const after = r.type === "remap" ? r.slot : -1;
        this.overlay.set(b, after);
        this.entryCount += (after >= 0 ? 1 : 0) - (before >= 0 ? 1 : 0);
        undo?.push(() => {
          if (prevOverlay !== undefined) this.overlay.set(b, prevOverlay);
          else this.overlay.delete(b);
          this.entryCount -= (after >= 0 ? 1 : 0) - (before >= 0 ? 1 : 0);
        });
        if (r.type === "unremap") {
          this.setLost(b, undefined, undo);
          this.setMirror(b, NO_MIRROR, undo);
        }
        return;
      }
      case "mirror":
        this.setMirror(b, r.slot, undo);
        return;
      case "pending":
      case "clear-pending": {
        const had = this.pending.has(b);
        if (r.type === "pending") this.pending.add(b);
        else this.pending.delete(b);
        undo?.push(() => (had ? this.pending.add(b) : this.pending.delete(b)));
        return;
      }
      case "lost":
        this.setLost(b, r.sectorMask.some((x) => x !== 0) ? r.sectorMask.slice() : undefined, undo);
        return;
    }
  }

  /**
   * Give `block`, remapped in the base and not changed since, the slot `slot` in the base itself
   * (copied once per base before the first such write); false when the block is not such a block.
   */
  private moveInBase(block: number, slot: number, undo: (() => void)[] | undefined): boolean {
    if (this.overlay.size > 0 && this.overlay.has(block)) return false;
    const i = search(this.base.blocks, block);
    if (i < 0) return false;
    if (!this.baseSlotsOwned) {
      this.base = { ...this.base, slots: this.base.slots.slice() };
      this.baseSlotsOwned = true;
    }
    const slots = this.base.slots as Uint32Array;
    const before = slots[i]!;
    slots[i] = slot;
    undo?.push(() => (slots[i] = before));
    return true;
  }

  /** Slot of the second copy of `block`, or NO_MIRROR. */
  mirrorOf(block: number): number {
    const o = this.mirrorOverlay.get(block);
    if (o !== undefined) return o;
    const i = search(this.mirrorBase.blocks, block);
    return i < 0 ? NO_MIRROR : this.mirrorBase.slots[i]!;
  }

  private setMirror(b: number, slot: number, undo: (() => void)[] | undefined): void {
    const had = this.mirrorOverlay.has(b);
    const prevOverlay = this.mirrorOverlay.get(b);
    const delta = (slot !== NO_MIRROR ? 1 : 0) - (this.mirrorOf(b) !== NO_MIRROR ? 1 : 0);
    this.mirrorOverlay.set(b, slot);
    this.mirrorCount += delta;
    undo?.push(() => {
      if (had) this.mirrorOverlay.set(b, prevOverlay!);
      else this.mirrorOverlay.delete(b);
      this.mirrorCount -= delta;
    });
  }

  private setLost(b: number, mask: Uint8Array | undefined, undo: (() => void)[] | undefined): void {
    const prev = this.lost.get(b);
    if (mask) this.lost.set(b, mask);
    else this.lost.delete(b);
    undo?.push(() => (prev ? this.lost.set(b, prev) : this.lost.delete(b)));
  }

  /** The current table as a fresh snapshot (never shares arrays with the caller's earlier copies). */
  snapshot(): TableSnapshot {
    const { blocks: outBlocks, slots: outSlots } = mergeOverlay(
      this.base,
      this.overlay,
      this.entryCount,
      (slot) => slot >= 0,
    );
    const pending = Float64Array.from(this.pending).sort();
    const lost = new Map<number, Uint8Array>();
    for (const [b, m] of this.lost) lost.set(b, m.slice());
    const snapshot = { blocks: outBlocks, slots: outSlots, pending, lost, counters: { ...this.counters } };
    if (this.mirrorCount === 0) return snapshot;
    return { ...snapshot, mirrors: this.mirrorSnapshot() };
  }

  /** Base second copies merged with the overlay, sorted by block (typed arrays, no per-entry objects). */
  private mirrorSnapshot(): { blocks: Float64Array; slots: Uint32Array } {
    return mergeOverlay(this.mirrorBase, this.mirrorOverlay, this.mirrorCount, (slot) => slot !== NO_MIRROR);
  }
}

/**
 * Sorted base entries merged with an overlay of changes (block -> slot; a slot that `kept` refuses
 * deletes the block), sorted by block: `count` entries in fresh typed arrays.
 */
function mergeOverlay(
  base: { readonly blocks: Float64Array; readonly slots: Uint32Array },
  overlay: ReadonlyMap<number, number>,
  count: number,
  kept: (slot: number) => boolean,
): { blocks: Float64Array; slots: Uint32Array } {
  const { blocks, slots } = base;
  const keys = Float64Array.from(overlay.keys()).sort();
  const outBlocks = new Float64Array(count);
  const outSlots = new Uint32Array(count);
  let i = 0;
  let j = 0;
  let o = 0;
  while (i < blocks.length || j < keys.length) {
    if (j >= keys.length || (i < blocks.length && blocks[i]! < keys[j]!)) {
      outBlocks[o] = blocks[i]!;
      outSlots[o++] = slots[i++]!;
      continue;
    }
    const k = keys[j++]!;
    if (i < blocks.length && blocks[i] === k) i++;
    const slot = overlay.get(k)!;
    if (kept(slot)) {
      outBlocks[o] = k;
      outSlots[o++] = slot;
    }
  }
  return { blocks: outBlocks, slots: outSlots };
}
