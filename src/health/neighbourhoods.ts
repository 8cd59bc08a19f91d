// The scanner's neighbourhood queue: after a new error, the blocks around it (expanding rings, the
// innermost ring of any error first), and the ranges already read, which the sweep then skips.
import { IntervalSet } from "./interval-set.js";

/** Neighbourhoods queued per pass at most (memory bound; the sweep still covers the rest). */
const MAX_NEIGHBOURHOODS = 4096;

/** A block range to read. */
export interface BlockRun {
  readonly firstBlock: number;
  readonly countBlocks: number;
}

/** Neighbourhood reads of one pass. */
export class Neighbourhoods {
  private readonly rings: { next: number; end: number; ring: number }[] = [];
  /** Whole neighbourhoods queued this pass (an error inside one queues nothing new). */
  private covered: { first: number; end: number }[] = [];
  /** Ranges read this pass. */
  private readonly read = new IntervalSet();

  constructor(
    private readonly blockCount: number,
    private readonly blockSize: number,
    private readonly radiusBytes: number,
  ) {}

  /** Rings still queued. */
  get queued(): number {
    return this.rings.length;
  }

  /** Queue the neighbourhood of `block`; false when nothing new was queued. */
  add(block: number): boolean {
    if (this.covered.some((c) => block >= c.first && block < c.end)) return false;
    if (this.covered.length >= MAX_NEIGHBOURHOODS) return false;
    const radius = Math.floor(this.radiusBytes / this.blockSize);
    if (radius === 0) return false;
    const first = Math.max(0, block - radius);
    const end = Math.min(this.blockCount, block + radius + 1);
    this.covered.push({ first, end });
    // Expanding rings (1, 4, 16, 64 MiB ... up to the radius): the nearest neighbours come first.
    let inner = 0;
    for (let ring = 0, ringBytes = 1 << 20; inner < radius; ring++, ringBytes *= 4) {
      const outer = Math.min(radius, Math.max(1, Math.floor(ringBytes / this.blockSize)));
      const after = { next: Math.min(end, block + 1 + inner), end: Math.min(end, block + 1 + outer), ring };
      const before = { next: Math.max(first, block - outer), end: Math.max(first, block - inner), ring };
      if (after.next < after.end) this.rings.push(after);
      if (before.next < before.end) this.rings.push(before);
      inner = outer;
    }
    return true;
  }

  /** The next read of at most `maxBlocks` (innermost ring first), or undefined. */
  next(maxBlocks: number): BlockRun | undefined {
    if (this.rings.length === 0) return undefined;
    let i = 0;
    for (let k = 1; k < this.rings.length; k++) if (this.rings[k]!.ring < this.rings[i]!.ring) i = k;
    const r = this.rings[i]!;
    const countBlocks = Math.min(maxBlocks, r.end - r.next);
    const run = { firstBlock: r.next, countBlocks };
    r.next += countBlocks;
    if (r.next >= r.end) this.rings.splice(i, 1);
    return run;
  }

  /** A neighbourhood read finished. */
  done(run: BlockRun): void {
    this.read.add(run.firstBlock, run.firstBlock + run.countBlocks);
  }

  /** Was all of `run` read by neighbourhood reads this pass? */
  covers(run: BlockRun): boolean {
    return this.read.covers(run.firstBlock, run.firstBlock + run.countBlocks);
  }

  /** A new pass: forget what was read (queued rings stay). */
  newPass(): void {
    this.covered = [];
    this.read.clear();
  }
}
