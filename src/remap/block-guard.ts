// Concurrency guard of the remap layer: registers in-flight I/O ranges (preallocated, no per-request
// allocation) and block locks (one block, or a batch of a pool operation as one sorted entry). A
// block's state changes only under its lock, after overlapping I/O drained.
import { lowerBound } from "./remap-table.js";

interface Waiter {
  /** True while registered I/O still touches what the waiter locked. */
  readonly blocked: () => boolean;
  readonly resolve: () => void;
}

/** Blocks locked together (a drain batch): sorted ascending, one promise released at once. */
interface BatchLock {
  readonly blocks: Float64Array;
  readonly held: Promise<void>;
  /** Called when someone looks up a block of the batch while it is held (and will wait for it). */
  readonly contended: (() => void) | undefined;
}

/**
 * The locked blocks: single-block locks in a map, batch locks as sorted arrays (a batch of 512 blocks
 * costs one entry, not 512 map entries); get/has/size read like a Map of block -> release promise.
 */
export class BlockLocks {
  private readonly single = new Map<number, Promise<void>>();
  private batches: BatchLock[] = [];
  private batchBlocks = 0;

  /** Number of locked blocks. */
  get size(): number {
    return this.single.size + this.batchBlocks;
  }

  /** The promise released with `block`'s lock, or undefined when it is not locked. */
  get(block: number): Promise<void> | undefined {
    const own = this.single.size > 0 ? this.single.get(block) : undefined;
    if (own !== undefined) return own;
    for (const batch of this.batches) {
      const { blocks } = batch;
      if (block < blocks[0]! || block > blocks[blocks.length - 1]!) continue;
      if (blocks[lowerBound(blocks, blocks.length, block)] !== block) continue;
      batch.contended?.();
      return batch.held;
    }
    return undefined;
  }

  has(block: number): boolean {
    return this.get(block) !== undefined;
  }

  /** The smallest locked block in [firstBlock, lastBlock], or -1. */
  first(firstBlock: number, lastBlock: number): number {
    let best = -1;
    for (const block of this.single.keys())
      if (block >= firstBlock && block <= lastBlock && (best < 0 || block < best)) best = block;
    for (const { blocks } of this.batches) {
      const i = lowerBound(blocks, blocks.length, firstBlock);
      if (i < blocks.length && blocks[i]! <= lastBlock && (best < 0 || blocks[i]! < best)) best = blocks[i]!;
    }
    return best;
  }

  setOne(block: number, held: Promise<void>): void {
    this.single.set(block, held);
  }

  deleteOne(block: number): void {
    this.single.delete(block);
  }

  addBatch(batch: BatchLock): void {
    this.batches.push(batch);
    this.batchBlocks += batch.blocks.length;
  }

  deleteBatch(batch: BatchLock): void {
    const at = this.batches.indexOf(batch);
    if (at < 0) return;
    this.batches.splice(at, 1);
    this.batchBlocks -= batch.blocks.length;
  }
}

/** Tracks in-flight block ranges and exclusive block locks. */
export class BlockGuard {
  private starts = new Float64Array(64);
  private ends = new Float64Array(64);
  private freeIds = new Int32Array(64);
  private freeCount = 64;
  private waiters: Waiter[] = [];
  /** Locked blocks -> promise resolved when the lock is released. */
  readonly locks = new BlockLocks();

  constructor() {
    for (let i = 0; i < 64; i++) this.freeIds[i] = 63 - i;
    this.starts.fill(-1);
  }

  /** Register I/O on blocks [firstBlock, lastBlock]; returns an id for release(). */
  register(firstBlock: number, lastBlock: number): number {
    if (this.freeCount === 0) this.grow();
    const id = this.freeIds[--this.freeCount]!;
    this.starts[id] = firstBlock;
    this.ends[id] = lastBlock;
    return id;
  }

  /** End the I/O registered as `id`. */
  release(id: number): void {
    this.starts[id] = -1;
    this.freeIds[this.freeCount++] = id;
    if (this.waiters.length > 0) this.wakeDrained();
  }

  /** The smallest locked block in [firstBlock, lastBlock], or -1. */
  firstLocked(firstBlock: number, lastBlock: number): number {
    if (this.locks.size === 0) return -1;
    return this.locks.first(firstBlock, lastBlock);
  }

  /** Run `fn` holding the lock of `block`, once no registered I/O touches the block. */
  async withLock<T>(block: number, fn: () => Promise<T>): Promise<T> {
    for (let held = this.locks.get(block); held; held = this.locks.get(block)) await held;
    let unlock!: () => void;
    this.locks.setOne(
      block,
      new Promise<void>((resolve) => {
        unlock = resolve;
      }),
    );
    try {
      if (this.overlaps(block)) await this.drained(() => this.overlaps(block));
      return await fn();
    } finally {
      this.locks.deleteOne(block);
      unlock();
    }
  }

  /**
   * Lock every block of `blocks` (ascending, no duplicates; a batch of a pool operation) as one
   * lock, once none of them is locked by anyone else (all at once: nothing is held while waiting)
   * and no registered I/O touches them; returns the release. `contended` is called whenever a block
   * of the batch is looked up while held (user I/O about to wait for it: release it soon).
   */
  async lockMany(blocks: readonly number[], contended?: () => void): Promise<() => void> {
    // Typed like the remap table's keys, so both share one lowerBound.
    const sorted = Float64Array.from(blocks);
    for (let other = this.anyLocked(sorted); other; other = this.anyLocked(sorted)) await other;
    let unlock!: () => void;
    const held = new Promise<void>((resolve) => (unlock = resolve));
    const batch: BatchLock = { blocks: sorted, held, contended };
    this.locks.addBatch(batch);
    // No registered I/O (an idle drain): nothing to wait for.
    if (this.activeCount > 0 && this.overlapsAny(sorted)) await this.drained(() => this.overlapsAny(sorted));
    return () => {
      this.locks.deleteBatch(batch);
      unlock();
    };
  }

  /** Number of registered I/O ranges. */
  get activeCount(): number {
    return this.starts.length - this.freeCount;
  }

  /** The lock promise of some block of `blocks` that is locked, or undefined. */
  private anyLocked(blocks: Float64Array): Promise<void> | undefined {
    if (this.locks.size === 0 || blocks.length === 0) return undefined;
    const first = this.locks.first(blocks[0]!, blocks[blocks.length - 1]!);
    if (first < 0) return undefined;
    for (let i = lowerBound(blocks, blocks.length, first); i < blocks.length; i++) {
      const held = this.locks.get(blocks[i]!);
      if (held) return held;
    }
    return undefined;
  }

  /** Resolves once `blocked()` turns false (checked whenever registered I/O ends). */
  private drained(blocked: () => boolean): Promise<void> {
    return new Promise<void>((resolve) => this.waiters.push({ blocked, resolve }));
  }

  private overlaps(block: number): boolean {
    const { starts, ends } = this;
    for (let i = 0; i < starts.length; i++) {
      if (starts[i]! >= 0 && starts[i]! <= block && ends[i]! >= block) return true;
    }
    return false;
  }

  /** True when registered I/O touches a block of `sorted` (ascending). */
  private overlapsAny(sorted: Float64Array): boolean {
    const { starts, ends } = this;
    for (let i = 0; i < starts.length; i++) {
      if (starts[i]! < 0) continue;
      const at = lowerBound(sorted, sorted.length, starts[i]!);
      if (at < sorted.length && sorted[at]! <= ends[i]!) return true;
    }
    return false;
  }

  private wakeDrained(): void {
    const still: Waiter[] = [];
    for (const waiter of this.waiters) {
      if (waiter.blocked()) still.push(waiter);
      else waiter.resolve();
    }
    this.waiters = still;
  }

  private grow(): void {
    const old = this.starts.length;
    const size = old * 2;
    const starts = new Float64Array(size).fill(-1);
    const ends = new Float64Array(size);
    starts.set(this.starts);
    ends.set(this.ends);
    const freeIds = new Int32Array(size);
    for (let i = 0; i < old; i++) freeIds[i] = size - 1 - i;
    this.starts = starts;
    this.ends = ends;
    this.freeIds = freeIds;
    this.freeCount = old;
  }
}
