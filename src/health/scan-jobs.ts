// What the scanner reads next, in priority order: imported suspects (ddrescue `*` / `/` areas) at
// the start of a pass, the neighbourhood of every new error, due re-reads of slow ranges, re-reads of
// known-error zones (when paid for), then the staggered sweep. Also tracks the reads in flight, so
// the persisted cursor never passes a read that has not finished.
import type { HotZones } from "./hot-zones.js";
import type { BlockRun, Neighbourhoods } from "./neighbourhoods.js";
import type { SuspectList } from "./suspect-list.js";
import type { SweepOrder } from "./sweep-order.js";

/** One scanner read. */
export interface Job extends BlockRun {
  readonly kind: "imported" | "neighbourhood" | "recheck" | "revisit" | "sweep";
  /** Sweep position (sweep jobs only). */
  readonly position?: number;
}

/** The scanner's job queue of one pass. */
export class ScanJobs {
  /** Next sweep position not yet handed out (the persisted cursor may lag behind in-flight reads). */
  nextPosition = 0;
  /** Imported suspect runs not yet handed out. */
  private imported: BlockRun[] = [];
  readonly inflight = new Map<Promise<void>, Job>();

  constructor(
    private readonly order: SweepOrder,
    private readonly neighbourhoods: Neighbourhoods,
    private readonly suspects: SuspectList,
    private readonly zones: HotZones,
    /** A sweep read was skipped (its blocks were read otherwise this pass). */
    private readonly skipped: (blocks: number) => void,
  ) {}

  /** Imported suspect runs still queued. */
  get importedQueued(): number {
    return this.imported.length;
  }

  /** Queue imported suspect blocks (read first), as runs of at most one read each. */
  queueImported(blocks: readonly number[]): void {
    const readBlocks = this.order.geometry.readBlocks;
    const sorted = [...new Set(blocks)].sort((a, b) => a - b);
    for (const b of sorted) {
      const last = this.imported.at(-1);
      if (last && b === last.firstBlock + last.countBlocks && last.countBlocks < readBlocks)
        this.imported[this.imported.length - 1] = { ...last, countBlocks: last.countBlocks + 1 };
      else this.imported.push({ firstBlock: b, countBlocks: 1 });
    }
  }

  /** The next read, or undefined when the pass has nothing left to hand out. */
  next(): Job | undefined {
    const readBlocks = this.order.geometry.readBlocks;
    const imported = this.imported.shift();
    if (imported) return { kind: "imported", ...imported };
    const near = this.neighbourhoods.next(readBlocks);
    if (near) return { kind: "neighbourhood", ...near };
    const due = this.suspects.takeDue();
    if (due) return { kind: "recheck", firstBlock: due.firstBlock, countBlocks: due.countBlocks };
    const revisit = this.zones.next(readBlocks);
    if (revisit) return { kind: "revisit", ...revisit };
    while (this.nextPosition < this.order.positions) {
      const position = this.nextPosition++;
      const read = this.order.readAt(position);
      if (!read) continue;
      if (this.neighbourhoods.covers(read)) {
        this.skipped(read.countBlocks);
        continue;
      }
      return { kind: "sweep", position, ...read };
    }
    return undefined;
  }

  /** A job was admitted but not started (the service stops): hand its sweep position out again. */
  giveBack(job: Job): void {
    if (job.position !== undefined && job.position < this.nextPosition) this.nextPosition = job.position;
  }

  /** Is `block` inside a read in flight (then its error is the scanner's finding)? */
  reading(block: number): boolean {
    for (const j of this.inflight.values())
      if (block >= j.firstBlock && block < j.firstBlock + j.countBlocks) return true;
    return false;
  }

  /** Lowest sweep position not yet finished. */
  persistedCursor(): number {
    let cursor = this.nextPosition;
    for (const job of this.inflight.values()) {
      if (job.position !== undefined && job.position < cursor) cursor = job.position;
    }
    return cursor;
  }

  /** First block of the sweep read at or after `position` (blockCount past the end). */
  blockAt(position: number): number {
    for (let p = position; p < this.order.positions; p++) {
      const read = this.order.readAt(p);
      if (read) return read.firstBlock;
    }
    return this.order.geometry.blockCount;
  }

  /** A new (or resumed) pass: the sweep restarts at `position`; imported runs are loaded again. */
  restart(position = 0): void {
    this.nextPosition = position;
    this.imported = [];
  }
}
