// Known-error zones: latent errors cluster in space and time (new bad blocks appear next to old ones),
// so the scanner re-reads the surroundings of every error it knows, often while they are small. A
// fixed share of the scanner's bytes pays for the re-reads; the zone width adapts to how far from
// their nearest known neighbour new errors appear.
import type { BlockRun } from "./neighbourhoods.js";

/** Known error blocks kept (the oldest give way): memory is bounded, never the disk size. */
const MAX_KNOWN = 1024;
/** Recent nearest-neighbour distances the zone width is learned from. */
const MAX_GAPS = 256;

/** How hot zones behave. */
export interface HotZoneOptions {
  readonly blockCount: number;
  /** Smallest distance re-read on each side of a known error. */
  readonly minPadBlocks: number;
  /** Largest (also: errors farther apart than this are not neighbours when learning the width). */
  readonly maxPadBlocks: number;
  /** Share of all scanner bytes spent on re-reads (0 = off). */
  readonly share: number;
}

/** What the side record keeps of the zones. */
export interface HotZoneRecord {
  readonly known: readonly number[];
  readonly gaps: readonly number[];
}

/** Known errors, the re-read schedule and its byte credit. */
export class HotZones {
  private known: number[] = [];
  private gaps: number[] = [];
  private creditBlocks = 0;
  /** Ranges of the re-read round in progress (consumed front to back). */
  private round: { next: number; end: number }[] = [];

  constructor(private readonly o: HotZoneOptions) {}

  /** Blocks re-read on each side of a known error: 1.5 x the 90th percentile of new errors' distance to their nearest known one. */
  get padBlocks(): number {
    const { minPadBlocks, maxPadBlocks } = this.o;
    if (this.gaps.length === 0) return Math.min(minPadBlocks, maxPadBlocks);
    const sorted = [...this.gaps].sort((a, b) => a - b);
    const p90 = sorted[Math.min(sorted.length - 1, Math.floor(0.9 * sorted.length))]!;
    return Math.min(maxPadBlocks, Math.max(minPadBlocks, Math.ceil(1.5 * p90)));
  }

  /** Number of known errors. */
  get size(): number {
    return this.known.length;
  }

  /** An error at `block` became known (pending or remapped, found by anyone). */
  add(block: number): void {
    if (this.o.share <= 0 || this.known.includes(block)) return;
    let nearest = Infinity;
    for (const k of this.known) nearest = Math.min(nearest, Math.abs(k - block));
    if (nearest <= this.o.maxPadBlocks) {
      this.gaps.push(nearest);
      if (this.gaps.length > MAX_GAPS) this.gaps.shift();
    }
    this.known.push(block);
    if (this.known.length > MAX_KNOWN) this.known.shift();
  }

  /** The scanner read `blocks` other than re-reads: the re-reads earn their share of all reads. */
  earn(blocks: number): void {
    const share = this.o.share;
    if (share <= 0 || this.known.length === 0) return;
    this.creditBlocks += (blocks * share) / (1 - share);
  }

  /** The next re-read of at most `maxBlocks`, when one is due and paid for; else undefined. */
  next(maxBlocks: number): BlockRun | undefined {
    if (this.round.length === 0) {
      if (this.known.length === 0) return undefined;
      const ranges = this.ranges();
      const total = ranges.reduce((n, r) => n + (r.end - r.next), 0);
      if (total === 0 || this.creditBlocks < total) return undefined;
      // Credit does not pile up: a round is due when the reads since the last one paid for it.
      this.creditBlocks = 0;
      this.round = ranges;
    }
    const r = this.round[0]!;
    const countBlocks = Math.min(maxBlocks, r.end - r.next);
    const run = { firstBlock: r.next, countBlocks };
    r.next += countBlocks;
    if (r.next >= r.end) this.round.shift();
    return run;
  }

  /** Blocks a full re-read round covers now. */
  roundBlocks(): number {
    return this.ranges().reduce((n, r) => n + (r.end - r.next), 0);
  }

  /** [known - pad, known + pad] for every known error, merged, in block order. */
  private ranges(): { next: number; end: number }[] {
    const pad = this.padBlocks;
    const sorted = [...this.known].sort((a, b) => a - b);
    const out: { next: number; end: number }[] = [];
    for (const k of sorted) {
      const next = Math.max(0, k - pad);
      const end = Math.min(this.o.blockCount, k + pad + 1);
      const last = out.at(-1);
      if (last && next <= last.end) last.end = Math.max(last.end, end);
      else out.push({ next, end });
    }
    return out;
  }

  record(): HotZoneRecord {
    return { known: [...this.known], gaps: [...this.gaps] };
  }

  load(record: HotZoneRecord | undefined): void {
    if (!record) return;
    this.known = record.known.filter((b) => Number.isSafeInteger(b) && b >= 0 && b < this.o.blockCount);
    this.gaps = record.gaps.filter((g) => Number.isFinite(g) && g >= 0);
  }
}
