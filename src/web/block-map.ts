// The block map: the block range [fromBlock, toBlock) of a target cut into at most `cells` cells, each
// counting its remapped / pending / lost / suspect blocks and the share scanned. Time and memory follow
// the remapped, pending and suspect blocks of the range and the cell count, never the disk size.
import type { BlockMap, CellCounts } from "./dashboard-types.js";
import { scannedBlocksIn, type ScanCoverage } from "./scan-coverage.js";

/** Most cells one map may have (a 256 x 256 grid). */
export const MAX_CELLS = 65_536;

/** One remapped block as the map needs it. */
export interface MappedRemap {
  readonly block: number;
  /** Lost 512-byte sectors of the block (0: its data moved intact). */
  readonly lostSectors: number;
}

/** What the map is built from. */
export interface BlockMapSource {
  readonly blockCount: number;
  readonly blockSize: number;
  /** Remapped blocks in [fromBlock, toBlock), ascending. */
  remapped(fromBlock: number, toBlock: number): Iterable<MappedRemap>;
  /** Pending blocks in [fromBlock, toBlock), ascending. */
  pending(fromBlock: number, toBlock: number): Iterable<number>;
  /** Block ranges the scanner found slow. */
  readonly suspects: readonly { readonly firstBlock: number; readonly countBlocks: number }[];
  /** Scan progress (absent: no scanner). */
  readonly scan?: ScanCoverage;
}

/** The range and resolution asked for. */
export interface BlockMapQuery {
  readonly fromBlock: number;
  readonly toBlock: number;
  readonly cells: number;
}

function sortedCounts(counts: Map<number, number>): CellCounts {
  return [...counts.entries()].sort((a, b) => a[0] - b[0]);
}

/** Build the map; the query must already be validated (0 <= from < to <= blockCount, 1 <= cells <= MAX_CELLS). */
export function buildBlockMap(source: BlockMapSource, query: BlockMapQuery): BlockMap {
  const { fromBlock, toBlock, cells } = query;
  if (!(fromBlock >= 0 && fromBlock < toBlock && toBlock <= source.blockCount))
    throw new RangeError(`block range ${fromBlock}..${toBlock} is not inside 0..${source.blockCount}`);
  if (!(cells >= 1 && cells <= MAX_CELLS))
    throw new RangeError(`cell count ${cells} is not in 1..${MAX_CELLS}`);
  const span = toBlock - fromBlock;
  const blocksPerCell = Math.ceil(span / cells);
  const cellCount = Math.ceil(span / blocksPerCell);
  const cellOf = (block: number) => Math.floor((block - fromBlock) / blocksPerCell);

  const remapped = new Map<number, number>();
  const lost = new Map<number, number>();
  const pending = new Map<number, number>();
  const suspect = new Map<number, number>();
  const bump = (m: Map<number, number>, cell: number, n = 1) => m.set(cell, (m.get(cell) ?? 0) + n);
  const totals = { remapped: 0, pending: 0, lost: 0, suspect: 0 };

  for (const r of source.remapped(fromBlock, toBlock)) {
    bump(remapped, cellOf(r.block));
    totals.remapped++;
    if (r.lostSectors > 0) {
      bump(lost, cellOf(r.block));
      totals.lost++;
    }
  }
  for (const block of source.pending(fromBlock, toBlock)) {
    bump(pending, cellOf(block));
    totals.pending++;
  }
  for (const s of source.suspects) {
    const a = Math.max(fromBlock, s.firstBlock);
    const b = Math.min(toBlock, s.firstBlock + s.countBlocks);
    // A suspect range is short (one scanner read), so walking its cells is cheap.
    for (let at = a; at < b;) {
      const cell = cellOf(at);
      const cellEnd = Math.min(b, fromBlock + (cell + 1) * blocksPerCell);
      bump(suspect, cell, cellEnd - at);
      totals.suspect += cellEnd - at;
      at = cellEnd;
    }
  }

  return {
    fromBlock,
    toBlock,
    blockSize: source.blockSize,
    blocksPerCell,
    cellCount,
    remapped: sortedCounts(remapped),
    pending: sortedCounts(pending),
    lost: sortedCounts(lost),
    suspect: sortedCounts(suspect),
    scanned: source.scan ? scannedRuns(source.scan, fromBlock, toBlock, blocksPerCell, cellCount) : [],
    scanKnown: source.scan !== undefined,
    totals,
  };
}

/** Runs of cells with the same scanned fraction. */
function scannedRuns(
  scan: ScanCoverage,
  fromBlock: number,
  toBlock: number,
  blocksPerCell: number,
  cellCount: number,
): [number, number, number][] {
  const runs: [number, number, number][] = [];
  for (let cell = 0; cell < cellCount; cell++) {
    const cellStart = fromBlock + cell * blocksPerCell;
    const cellEnd = Math.min(toBlock, cellStart + blocksPerCell);
    const fraction =
      Math.round((scannedBlocksIn(scan, cellStart, cellEnd) / (cellEnd - cellStart)) * 1000) / 1000;
    if (fraction === 0) continue;
    const prev = runs.at(-1);
    if (prev && prev[1] === cell && prev[2] === fraction) prev[1] = cell + 1;
    else runs.push([cell, cell + 1, fraction]);
  }
  return runs;
}
