// Allocator over the global slot space of all spares: a bitmap with a next-fit cursor.
// Hands every slot out at most once, keeps used + free = total, maps a slot to (spare, byte offset).
import { NoSpaceError } from "../block/errors.js";
import type { SpareIdentity } from "../metadata/metadata-store.js";

/** Usage of one spare device. */
export interface SpareUsage {
  readonly index: number;
  readonly uuid: string;
  readonly totalBlocks: number;
  readonly usedBlocks: number;
  readonly freeBlocks: number;
}

/** Options of a spare pool. */
export interface SparePoolOptions {
  /** Name used in error messages. */
  readonly name: string;
  /** Remap unit in bytes. */
  readonly blockSize: number;
  /** The pool is "nearly exhausted" when at most this percentage of slots is free (0..100). */
  readonly nearlyExhaustedPercent: number;
}

/** Slot allocator of a set; slots are numbered globally in spare index order. */
export class SparePool {
  /** Number of slots over every spare (grows when a spare is added). */
  totalSlots: number;
  private bitmap: Uint32Array;
  private usedPerSpare: Uint32Array;
  private spares: readonly SpareIdentity[];
  private used = 0;
  private free = 0;
  private cursor = 0;

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
  }

  get usedSlots(): number {
    return this.used;
  }

  get freeSlots(): number {
    return this.free;
  }

  /** True when free slots are at or below the configured percentage (or none are left). */
  get nearlyExhausted(): boolean {
    return this.free === 0 || this.free * 100 <= this.totalSlots * this.options.nearlyExhaustedPercent;
  }

  /** True when `slot` is handed out. */
  isUsed(slot: number): boolean {
    return (this.bitmap[slot >>> 5]! & (1 << (slot & 31))) !== 0;
  }

  /**
   * Hand out a free slot, not on a spare whose index is in `avoid` (spares that failed writes);
   * throws NoSpaceError when none is left.
   */
  allocate(avoid?: ReadonlySet<number>): number {
    if (this.free === 0)
      throw new NoSpaceError(this.options.name, `no spare slot left (${this.totalSlots} used)`);
    if (avoid && avoid.size > 0) return this.allocateAvoiding(avoid);
    const words = this.bitmap.length;
    for (let n = 0; n <= words; n++) {
      const w = (this.cursor + n) % words;
      const word = this.bitmap[w]!;
      if (word === 0xffffffff) continue;
      for (let bit = 0; bit < 32; bit++) {
        const slot = w * 32 + bit;
        if (slot >= this.totalSlots) break;
        if ((word & (1 << bit)) === 0) {
          this.markUsed(slot);
          this.cursor = w;
          return slot;
        }
      }
    }
    throw new Error(`spare pool: ${this.free} slots counted free but none found`);
  }

  private allocateAvoiding(avoid: ReadonlySet<number>): number {
    for (let slot = 0; slot < this.totalSlots; slot++) {
      if (this.isUsed(slot) || avoid.has(this.spareIndexOf(slot))) continue;
      this.markUsed(slot);
      return slot;
    }
    throw new NoSpaceError(
      this.options.name,
      `no spare slot left outside the failing spares ${[...avoid].join(", ")} (${this.free} free there)`,
    );
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
    this.bitmap = bitmap;
    this.usedPerSpare = usedPerSpare;
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
    this.totalSlots -= last.slotCount;
    this.free -= last.slotCount;
    this.cursor = 0;
    this.assertBalanced();
    return last;
  }

  /** Used and total slots of every spare. */
  perSpare(): SpareUsage[] {
    return this.spares.map((spare, i) => ({
      index: spare.index,
      uuid: spare.uuid,
      totalBlocks: spare.slotCount,
      usedBlocks: this.usedPerSpare[i]!,
      freeBlocks: spare.slotCount - this.usedPerSpare[i]!,
    }));
  }

  private assertSlot(slot: number): void {
    if (!Number.isInteger(slot) || slot < 0 || slot >= this.totalSlots) {
      throw new RangeError(`spare slot ${slot} is outside the pool (0..${this.totalSlots - 1})`);
    }
  }

  private assertBalanced(): void {
    if (this.used + this.free !== this.totalSlots || this.free < 0) {
      throw new Error(
        `spare pool out of balance: used ${this.used} + free ${this.free} != ${this.totalSlots}`,
      );
    }
  }
}
