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
  /** Number of slots over every spare. */
  readonly totalSlots: number;
  private readonly bitmap: Uint32Array;
  private readonly usedPerSpare: Uint32Array;
  private readonly spares: readonly SpareIdentity[];
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

  /** Hand out a free slot; throws NoSpaceError when none is left. */
  allocate(): number {
    if (this.free === 0)
      throw new NoSpaceError(this.options.name, `no spare slot left (${this.totalSlots} used)`);
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
