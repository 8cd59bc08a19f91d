// Per-block read-error history, bounded in memory: when (and how hard) each block failed. The
// migration policy reads it to tell a weak sector (fails again and again) from a transient error.

/** What is remembered of one block. */
export interface BlockErrors {
  /** Start times (clock ms) of the occasions on which reads of the block failed, oldest first. */
  readonly occasions: number[];
  /** Failed read attempts in total (this session). */
  failures: number;
  /** Most retries one recovered read of the block needed. */
  maxRetries: number;
}

/** Bounded map block -> BlockErrors; the least recently failed block is forgotten first. */
export class ErrorHistory {
  private readonly blocks = new Map<number, BlockErrors>();

  constructor(private readonly maxBlocks: number) {
    if (!Number.isInteger(maxBlocks) || maxBlocks < 1) {
      throw new RangeError(`error history size ${maxBlocks} is not a positive integer`);
    }
  }

  /**
   * Record one occasion (one request's failed attempts on `block`, `failures` >= 1) at `nowMs`;
   * occasions older than `windowMs` are dropped. Returns the block's history.
   */
  record(block: number, nowMs: number, failures: number, windowMs: number): BlockErrors {
    let entry = this.blocks.get(block);
    if (entry) this.blocks.delete(block);
    else {
      entry = { occasions: [], failures: 0, maxRetries: 0 };
      if (this.blocks.size >= this.maxBlocks) {
        const oldest = this.blocks.keys().next().value as number;
        this.blocks.delete(oldest);
      }
    }
    this.blocks.set(block, entry);
    entry.failures += failures;
    const occasions = entry.occasions;
    while (occasions.length > 0 && nowMs - occasions[0]! > windowMs) occasions.shift();
    occasions.push(nowMs);
    // Only the count within the window matters; keep the list short.
    if (occasions.length > 128) occasions.shift();
    return entry;
  }

  /** Note how many retries a recovered read of `block` needed. */
  noteRetries(block: number, retries: number): void {
    const entry = this.blocks.get(block);
    if (entry && retries > entry.maxRetries) entry.maxRetries = retries;
  }

  /** The history of `block`, if remembered. */
  get(block: number): BlockErrors | undefined {
    return this.blocks.get(block);
  }

  /** Forget `block` (it moved to a spare or was rewritten). */
  forget(block: number): void {
    this.blocks.delete(block);
  }

  /** Blocks remembered. */
  get size(): number {
    return this.blocks.size;
  }
}
