// The order of a scan pass (Schroeder et al. 2010, "staggered scrubbing"): the disk is cut into
// `regions`; a round reads one segment (large reads) of every region, so a cluster of latent errors
// at least a region wide is hit in the first round, wherever it is.

/** Geometry of a sweep; persisted with the cursor so a changed geometry restarts the pass. */
export interface SweepGeometry {
  readonly blockCount: number;
  /** Blocks per read. */
  readonly readBlocks: number;
  /** Reads per segment (sequential run). */
  readonly segmentReads: number;
  readonly regions: number;
}

/** One read of the sweep. */
export interface SweepRead {
  readonly firstBlock: number;
  readonly countBlocks: number;
}

/** Maps a cursor position (0 .. positions-1) to the read it stands for; some positions are void. */
export class SweepOrder {
  /** Number of cursor positions (including void ones). */
  readonly positions: number;
  private readonly totalReads: number;
  private readonly segments: number;
  private readonly regions: number;
  private readonly segmentsPerRegion: number;

  constructor(readonly geometry: SweepGeometry) {
    const { blockCount, readBlocks, segmentReads, regions } = geometry;
    for (const [k, v] of Object.entries(geometry)) {
      if (!Number.isSafeInteger(v) || v < (k === "blockCount" ? 0 : 1))
        throw new RangeError(`sweep ${k} ${v} is not a positive integer`);
    }
    this.totalReads = Math.ceil(blockCount / readBlocks);
    this.segments = Math.ceil(this.totalReads / segmentReads);
    this.regions = Math.max(1, Math.min(regions, this.segments));
    this.segmentsPerRegion = Math.ceil(this.segments / this.regions);
    this.positions = this.regions * this.segmentsPerRegion * segmentReads;
  }

  /** The read at cursor position `p`, or undefined for a void position (past the end of the disk). */
  readAt(p: number): SweepRead | undefined {
    const { readBlocks, segmentReads, blockCount } = this.geometry;
    const segIndex = Math.floor(p / segmentReads);
    const within = p % segmentReads;
    const round = Math.floor(segIndex / this.regions);
    const region = segIndex % this.regions;
    const segment = region * this.segmentsPerRegion + round;
    if (segment >= this.segments) return undefined;
    const readIndex = segment * segmentReads + within;
    if (readIndex >= this.totalReads) return undefined;
    const firstBlock = readIndex * readBlocks;
    return { firstBlock, countBlocks: Math.min(readBlocks, blockCount - firstBlock) };
  }
}

/**
 * Geometry for a device: reads of `readBytes`, `segmentReads` per segment, regions of `regionBytes`
 * (0: one region, a plain sequential sweep).
 */
export function sweepGeometry(
  blockCount: number,
  blockSize: number,
  readBytes: number,
  segmentReads: number,
  regionBytes: number,
): SweepGeometry {
  const readBlocks = Math.max(1, Math.floor(readBytes / blockSize));
  const regions = regionBytes > 0 ? Math.max(1, Math.ceil((blockCount * blockSize) / regionBytes)) : 1;
  return { blockCount, readBlocks, segmentReads, regions };
}
