// How many blocks of a range the scanner has read in its current pass. A pass follows the staggered
// sweep of src/health/sweep-order.ts: the disk is cut into regions and each round reads the next
// segment of every region, so the scanned part of each region is a prefix of it. Counting is O(1) per
// range, whatever the number of regions (a 16 TiB disk has millions).
import type { SweepGeometry } from "../health/sweep-order.js";

/** What the coverage is computed from (the scanner's status). */
export interface ScanCoverage {
  readonly state: "idle" | "scanning" | "paused";
  readonly cursorBlock: number;
  readonly scannedBlocks: number;
  readonly totalBlocks: number;
  /** The last finished pass ran to its end (an idle scanner then counts everything as scanned). */
  readonly lastPassComplete: boolean;
  /** The sweep geometry; without it the pass's share is spread evenly (exact at the scale of regions). */
  readonly geometry?: SweepGeometry;
}

/** Blocks of [a, b) read in the current pass (the last pass when idle). */
export function scannedBlocksIn(scan: ScanCoverage, a: number, b: number): number {
  const total = scan.totalBlocks;
  b = Math.min(b, total);
  if (a >= b) return 0;
  if (scan.state === "idle") return scan.lastPassComplete ? b - a : 0;
  if (scan.cursorBlock >= total) return b - a;
  const g = scan.geometry;
  if (!g || g.blockCount !== total) return ((b - a) * scan.scannedBlocks) / total;
  const segmentBlocks = g.readBlocks * g.segmentReads;
  const segments = Math.ceil(Math.ceil(total / g.readBlocks) / g.segmentReads);
  const regions = Math.max(1, Math.min(g.regions, segments));
  const perRegion = Math.ceil(segments / regions);
  const regionBlocks = perRegion * segmentBlocks;
  // The next read is in segment region * perRegion + round: regions before it have finished round + 1
  // segments, the ones after it `round`, its own `round` plus a part.
  const segment = Math.floor(scan.cursorBlock / segmentBlocks);
  const cursorRegion = Math.floor(segment / perRegion);
  const round = segment % perRegion;
  const doneBefore = Math.min(regionBlocks, (round + 1) * segmentBlocks);
  const doneAfter = Math.min(regionBlocks, round * segmentBlocks);
  const done = (r: number) =>
    r < cursorRegion ? doneBefore : r > cursorRegion ? doneAfter : scan.cursorBlock - r * regionBlocks;
  const overlap = (r: number) => {
    const start = r * regionBlocks;
    return Math.max(0, Math.min(b, start + done(r), total) - Math.max(a, start));
  };
  const first = Math.floor(a / regionBlocks);
  const last = Math.floor((b - 1) / regionBlocks);
  if (first === last) return overlap(first);
  let sum = overlap(first) + overlap(last);
  // Whole regions strictly between: those before the cursor's region, after it, and it.
  const lo = first + 1;
  const hi = last - 1;
  if (lo <= hi) {
    const before = Math.max(0, Math.min(hi, cursorRegion - 1) - lo + 1);
    const after = Math.max(0, hi - Math.max(lo, cursorRegion + 1) + 1);
    sum += before * doneBefore + after * doneAfter;
    if (cursorRegion >= lo && cursorRegion <= hi) sum += done(cursorRegion);
  }
  return sum;
}
