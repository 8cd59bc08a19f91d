// Allocator over the global slot space of all spares: a bitmap with a next-fit cursor per spare.
// Hands every slot out at most once, keeps used + free = total, maps a slot to (spare, byte offset).
// Which spare a new slot comes from is the allocation policy (fill-first, round-robin, least-used),
// chosen in O(spares) from per-spare counts; spares to avoid (quarantined, missing) are skipped.
import { NoSpaceError } from "../block/errors.js";
import type { SpareIdentity } from "../metadata/metadata-store.js";

/** Usage of one spare device. */
export interface SpareUsage {
  readonly index: number;
  readonly uuid: string;
  readonly totalBlocks: number;
  readonly usedBlocks: number;
  readonly freeBlocks: number;
  /** Slots of this spare whose write failed this session (counted in usedBlocks). */
  readonly quarantinedBlocks: number;
}

/** How the pool picks the spare a new slot comes from. */
export type SpareAllocation = "fill-first" | "round-robin" | "least-used";

/** Every allocation policy, the default first. */
export const SPARE_ALLOCATIONS: readonly SpareAllocation[] = ["fill-first", "round-robin", "least-used"];

/** Options of a spare pool. */
export interface SparePoolOptions {
  /** Name used in error messages. */
  readonly name: string;
  /** Remap unit in bytes. */
  readonly blockSize: number;
  /** The pool is "nearly exhausted" when at most this percentage of slots is free (0..100). */
  readonly nearlyExhaustedPercent: number;
  /**
   * Spare a new slot comes from: the lowest index with room (fill-first, the default), the next
   * one after the last used (round-robin), or the one with fewest used slots, ties to the lowest
   * index (least-used).
   */
  readonly allocation?: SpareAllocation;
}

/** Slot allocator of a set; slots are numbered globally in spare index order. */
export class SparePool {
  /** Number of slots over every spare (grows when a spare is added). */
  totalSlots: number;
  private bitmap: Uint32Array;
  private usedPerSpare: Uint32Array;
  private quarantinedPerSpare: Uint32Array;
  /** Next-fit cursor (a global slot) of every spare. */
  private cursors: Uint32Array;
  private spares: readonly SpareIdentity[];
  private used = 0;
  private free = 0;
  /** Spares removed from the set (tombstones): their slot numbers stay reserved, never handed out. */
  private readonly retired = new Set<number>();
  private retiredSlots = 0;
  /** Round-robin: the spare tried first by the next allocation. */
  private nextSpare = 0;

  constructor(
    spares: readonly SpareIdentity[],
    private readonly options: SparePoolOptions,
  ) {
    this.spares = [...spares].sort((a, b) => a.index - b.index);
    let expectedFirst = 0;
    for (const [position, spare] of this.spares.entries()) {
      if (spare.index !== position) throw new RangeError(`spare index ${spare.index} is out of sequence`);
      if (spare.firstSlot !== expectedFirst) {
        throw new RangeError(
          `spare ${spare.index} starts at slot ${spare.firstSlot}, expected ${expectedFirst}`,
        );
      }
      expectedFirst += spare.slotCount;
    }
    this.totalSlots = expectedFirst;
    this.free = expectedFirst;
    this.bitmap = new Uint32Array(Math.ceil(expectedFirst / 32));
    this.usedPerSpare = new Uint32Array(this.spares.length);
    this.quarantinedPerSpare = new Uint32Array(this.spares.length);
    this.cursors = Uint32Array.from(this.spares, (spare) => spare.firstSlot);
  }

  get usedSlots(): number {
    return this.used;
  }

  get freeSlots(): number {
    return this.free;
  }

  /** Slots that can hold blocks: every spare's slots except those of removed spares. */
  get capacitySlots(): number {
    return this.totalSlots - this.retiredSlots;
  }

  /** True when free slots are at or below the configured percentage (or none are left). */
  get nearlyExhausted(): boolean {
    return this.free === 0 || this.free * 100 <= this.capacitySlots * this.options.nearlyExhaustedPercent;
  }

  /**
   * A spare removed from the set while others follow it (a tombstone): its slot numbers stay
   * reserved so no later slot is renumbered, but they no longer count as free or as capacity.
   */
  retireSpare(index: number): void {
    const spare = this.spares[index];
    if (!spare) throw new RangeError(`spare ${index} is not in the pool (${this.spares.length} spares)`);
    if (this.retired.has(index)) return;
    const used = this.usedPerSpare[index]!;
    if (used > 0) throw new RangeError(`spare ${index} cannot be retired: ${used} slots in use`);
    this.retired.add(index);
    this.retiredSlots += spare.slotCount;
    this.free -= spare.slotCount;
    this.assertBalanced();
  }

  /** True when `slot` is handed out. */
  isUsed(slot: number): boolean {
    return (this.bitmap[slot >>> 5]! & (1 << (slot & 31))) !== 0;
  }

  /**
   * Hand out a free slot, not on a spare whose index is in `avoid` (spares that failed writes or
   * are missing); the spare is chosen by the allocation policy. Throws NoSpaceError when none is left.
   */
  allocate(avoid?: ReadonlySet<number>): number {
    if (this.free === 0)
      throw new NoSpaceError(this.options.name, `no spare slot left (${this.totalSlots} used)`);
    const slot = this.tryAllocate(avoid);
    if (slot < 0) {
      throw new NoSpaceError(
        this.options.name,
        `no spare slot left outside the failing spares ${[...(avoid ?? [])].join(", ")} (${this.free} free there)`,
      );
    }
    return slot;
  }

  /**
   * Hand out up to `count` free slots at once (a drain batch), each as allocate(avoid) would, so a
   * batch gets consecutive slots where the policy allows; fewer when fewer are free outside `avoid`
   * (the caller releases them or asks elsewhere). No error is built per slot.
   */
  allocateMany(count: number, avoid?: ReadonlySet<number>): number[] {
    const slots: number[] = [];
    for (let k = 0; k < count; k++) {
      const slot = this.tryAllocate(avoid);
      if (slot < 0) break;
      slots.push(slot);
    }
    return slots;
  }

  /** allocate() without the error: a free slot outside `avoid`, or -1. */
  private tryAllocate(avoid: ReadonlySet<number> | undefined): number {
    const index = this.pickSpare(avoid);
    if (index < 0) return -1;
    const slot = this.findFree(index);
    if (slot < 0) throw new Error(`spare pool: spare ${index} counted free slots but none found`);
    this.markUsed(slot);
    this.cursors[index] = slot;
    if (this.options.allocation === "round-robin") this.nextSpare = (index + 1) % this.spares.length;
    return slot;
  }

  /** Index of the spare the next slot comes from under the policy, or -1; O(spares). */
  private pickSpare(avoid: ReadonlySet<number> | undefined): number {
    const n = this.spares.length;
    const eligible = (i: number) =>
      this.usedPerSpare[i]! < this.spares[i]!.slotCount && !this.retired.has(i) && !(avoid?.has(i) ?? false);
    const policy = this.options.allocation ?? "fill-first";
    if (policy === "round-robin") {
      for (let k = 0; k < n; k++) {
        const i = (this.nextSpare + k) % n;
        if (eligible(i)) return i;
      }
      return -1;
    }
    let best = -1;
    for (let i = 0; i < n; i++) {
      if (!eligible(i)) continue;
      if (policy === "fill-first") return i;
      if (best < 0 || this.usedPerSpare[i]! < this.usedPerSpare[best]!) best = i;
    }
    return best;
  }

  /** A free slot of spare `index`, next-fit from its cursor (full bitmap words are skipped), or -1. */
  private findFree(index: number): number {
    const spare = this.spares[index]!;
    const first = spare.firstSlot;
    const end = first + spare.slotCount;
    const start = Math.min(Math.max(this.cursors[index]!, first), end - 1);
    // From the cursor to the end, then from the first slot to the cursor (no array per call: a
    // drain allocates one slot per block it moves).
    const found = this.firstClear(start, end);
    return found >= 0 ? found : this.firstClear(first, start);
  }

  /** The first free slot in [from, to), or -1 (skips full 32-slot words). */
  private firstClear(from: number, to: number): number {
    let slot = from;
    while (slot < to) {
      const word = this.bitmap[slot >>> 5]!;
      if (word === 0xffffffff) {
        slot = (slot | 31) + 1;
        continue;
      }
      if ((word & (1 << (slot & 31))) === 0) return slot;
      slot++;
    }
    return -1;
  }

  /** Count `slot` (in use) as quarantined: its spare write failed; it is never handed out again. */
  noteQuarantined(slot: number): void {
    this.assertSlot(slot);
    this.quarantinedPerSpare[this.spareIndexOf(slot)]!++;
  }

  /** Record `slot` as used (rebuilding from a table); throws when it already is. */
  markUsed(slot: number): void {
    this.assertSlot(slot);
    if (this.isUsed(slot)) throw new RangeError(`spare slot ${slot} is allocated twice`);
    this.bitmap[slot >>> 5]! |= 1 << (slot & 31);
    this.used++;
    this.free--;
    this.usedPerSpare[this.spareIndexOf(slot)]!++;
    this.assertBalanced();
  }

  /** Return `slot` to the pool; throws when it is not in use. */
  release(slot: number): void {
    this.assertSlot(slot);
    if (!this.isUsed(slot)) throw new RangeError(`spare slot ${slot} is freed but not in use`);
    this.bitmap[slot >>> 5]! &= ~(1 << (slot & 31));
    this.used--;
    this.free++;
    this.usedPerSpare[this.spareIndexOf(slot)]!--;
    this.assertBalanced();
  }

  /** Index of the spare holding global `slot`. */
  spareIndexOf(slot: number): number {
    const spares = this.spares;
    for (let i = spares.length - 1; i > 0; i--) if (slot >= spares[i]!.firstSlot) return i;
    return 0;
  }

  /** Byte offset of global `slot` on its spare device. */
  offsetOf(slot: number): number {
    const spare = this.spares[this.spareIndexOf(slot)]!;
    return spare.dataOffsetBytes + (slot - spare.firstSlot) * this.options.blockSize;
  }

  /** Append a spare added to the set online (src/spares): its slots follow the others' and are free. */
  addSpare(spare: SpareIdentity): void {
    if (spare.index !== this.spares.length || spare.firstSlot !== this.totalSlots)
      throw new RangeError(
        `spare ${spare.index} at slot ${spare.firstSlot} does not follow the pool (${this.spares.length} spares, ${this.totalSlots} slots)`,
      );
    const total = this.totalSlots + spare.slotCount;
    const bitmap = new Uint32Array(Math.ceil(total / 32));
    bitmap.set(this.bitmap);
    const usedPerSpare = new Uint32Array(this.spares.length + 1);
    usedPerSpare.set(this.usedPerSpare);
    const quarantined = new Uint32Array(this.spares.length + 1);
    quarantined.set(this.quarantinedPerSpare);
    const cursors = new Uint32Array(this.spares.length + 1);
    cursors.set(this.cursors);
    cursors[this.spares.length] = spare.firstSlot;
    this.bitmap = bitmap;
    this.usedPerSpare = usedPerSpare;
    this.quarantinedPerSpare = quarantined;
    this.cursors = cursors;
    this.spares = [...this.spares, spare];
    this.totalSlots = total;
    this.free += spare.slotCount;
    this.assertBalanced();
  }

  /** Drop the last spare (removed from the set online, src/spares); none of its slots may be in use. */
  removeLastSpare(): SpareIdentity {
    const last = this.spares[this.spares.length - 1]!;
    const used = this.usedPerSpare[this.spares.length - 1]!;
    if (this.spares.length < 2 || used > 0)
      throw new RangeError(
        `spare ${last.index} cannot leave the pool (${used} slots in use, ${this.spares.length} spares)`,
      );
    this.spares = this.spares.slice(0, -1);
    this.usedPerSpare = this.usedPerSpare.slice(0, -1);
    this.quarantinedPerSpare = this.quarantinedPerSpare.slice(0, -1);
    this.cursors = this.cursors.slice(0, -1);
    this.totalSlots -= last.slotCount;
    if (this.retired.delete(last.index)) this.retiredSlots -= last.slotCount;
    else this.free -= last.slotCount;
    this.nextSpare = 0;
    this.assertBalanced();
    return last;
  }

  /** Used, free, quarantined and total slots of every spare. */
  perSpare(): SpareUsage[] {
    return this.spares.map((spare, i) => ({
      index: spare.index,
      uuid: spare.uuid,
      totalBlocks: this.retired.has(i) ? 0 : spare.slotCount,
      usedBlocks: this.usedPerSpare[i]!,
      freeBlocks: this.retired.has(i) ? 0 : spare.slotCount - this.usedPerSpare[i]!,
      quarantinedBlocks: this.quarantinedPerSpare[i]!,
    }));
  }

  private assertSlot(slot: number): void {
    if (!Number.isInteger(slot) || slot < 0 || slot >= this.totalSlots) {
      throw new RangeError(`spare slot ${slot} is outside the pool (0..${this.totalSlots - 1})`);
    }
  }

  private assertBalanced(): void {
    if (this.used + this.free + this.retiredSlots !== this.totalSlots || this.free < 0) {
      throw new Error(
        `spare pool out of balance: used ${this.used} + free ${this.free} + removed ${this.retiredSlots} != ${this.totalSlots}`,
      );
    }
  }
}
