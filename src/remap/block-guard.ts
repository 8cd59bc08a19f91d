// Concurrency guard of the remap layer: registers in-flight I/O ranges (preallocated, no per-request
// allocation) and per-block locks. A block's state changes only under its lock, after overlapping I/O drained.

interface Waiter {
  readonly block: number;
  readonly resolve: () => void;
}

/** Tracks in-flight block ranges and exclusive per-block locks. */
export class BlockGuard {
  private starts = new Float64Array(64);
  private ends = new Float64Array(64);
  private freeIds = new Int32Array(64);
  private freeCount = 64;
  private waiters: Waiter[] = [];
  /** Locked blocks -> promise resolved when the lock is released. */
  readonly locks = new Map<number, Promise<void>>();

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
    let best = -1;
    for (const block of this.locks.keys()) {
      if (block >= firstBlock && block <= lastBlock && (best < 0 || block < best)) best = block;
    }
    return best;
  }

  /** Run `fn` holding the lock of `block`, once no registered I/O touches the block. */
  async withLock<T>(block: number, fn: () => Promise<T>): Promise<T> {
    for (let held = this.locks.get(block); held; held = this.locks.get(block)) await held;
    let unlock!: () => void;
    this.locks.set(
      block,
      new Promise<void>((resolve) => {
        unlock = resolve;
      }),
    );
    try {
      if (this.overlaps(block)) await new Promise<void>((resolve) => this.waiters.push({ block, resolve }));
      return await fn();
    } finally {
      this.locks.delete(block);
      unlock();
    }
  }

  /**
   * Lock every block of `blocks` (in ascending order, as one shared lock: a batch of a pool
   * operation), once no registered I/O touches them; returns the release.
   */
  async lockMany(blocks: readonly number[]): Promise<() => void> {
    let unlock!: () => void;
    const shared = new Promise<void>((resolve) => (unlock = resolve));
    const held: number[] = [];
    for (const block of blocks) {
      for (let other = this.locks.get(block); other; other = this.locks.get(block)) await other;
      this.locks.set(block, shared);
      held.push(block);
    }
    // No registered I/O (an idle drain): nothing to wait for, skip the per-block scan.
    if (this.activeCount > 0)
      for (const block of held)
        if (this.overlaps(block)) await new Promise<void>((resolve) => this.waiters.push({ block, resolve }));
    return () => {
      for (const block of held) this.locks.delete(block);
      unlock();
    };
  }

  /** Number of registered I/O ranges. */
  get activeCount(): number {
    return this.starts.length - this.freeCount;
  }

  private overlaps(block: number): boolean {
    const { starts, ends } = this;
    for (let i = 0; i < starts.length; i++) {
      if (starts[i]! >= 0 && starts[i]! <= block && ends[i]! >= block) return true;
    }
    return false;
  }

  private wakeDrained(): void {
    const still: Waiter[] = [];
    for (const waiter of this.waiters) {
      if (this.overlaps(waiter.block)) still.push(waiter);
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
