// A FIFO range lock: holders of overlapping [start, end) ranges run one at a time, in arrival order.
// Direct file I/O uses it so a read-modify-write of a block never interleaves with another write to it.

interface Entry {
  readonly start: number;
  readonly end: number;
  readonly done: Promise<void>;
}

/** Lock over integer ranges; disjoint ranges never wait for each other. */
export class RangeLock {
  private readonly entries: Entry[] = [];

  /** Wait until every earlier overlapping holder has released; resolves to this holder's release. */
  async acquire(start: number, end: number): Promise<() => void> {
    if (!(end > start)) throw new RangeError(`range lock [${start}, ${end}) is empty`);
    const earlier = this.entries.filter((e) => e.start < end && start < e.end).map((e) => e.done);
    let finish!: () => void;
    const entry: Entry = { start, end, done: new Promise<void>((resolve) => (finish = resolve)) };
    this.entries.push(entry);
    await Promise.all(earlier);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.entries.splice(this.entries.indexOf(entry), 1);
      finish();
    };
  }

  /** Run `body` holding [start, end). */
  async with<T>(start: number, end: number, body: () => Promise<T>): Promise<T> {
    const release = await this.acquire(start, end);
    try {
      return await body();
    } finally {
      release();
    }
  }

  /** Holders and waiters. */
  get size(): number {
    return this.entries.length;
  }
}
