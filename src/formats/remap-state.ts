// The state every format reads and writes: a set's geometry, remapped blocks (with spare slot and lost
// sectors), pending blocks and suspect blocks, plus the byte-range helpers that the codecs share.

/** Bytes per sector: lost sectors, dm tables and ddrescue's default granularity. */
export const SECTOR_BYTES = 512;

/** A half-open byte range [startBytes, startBytes + lengthBytes) of main. */
export interface ByteRange {
  readonly startBytes: number;
  readonly lengthBytes: number;
}

/** One remapped block: where its data lives and which of its sectors were lost. */
export interface RemappedBlock {
  readonly block: number;
  /** Index of the spare that holds the slot. */
  readonly spare: number;
  /** Byte offset of the slot on that spare. */
  readonly spareOffsetBytes: number;
  /** Lost 512-byte sectors within the block (0-based), ascending. */
  readonly lostSectors: readonly number[];
}

/** A set's state as the formats see it (one snapshot; every list ascending, no duplicates). */
export interface RemapState {
  /** Remap unit in bytes. */
  readonly blockSize: number;
  /** Size of main (and of the exported device) in bytes. */
  readonly sizeBytes: number;
  readonly remapped: readonly RemappedBlock[];
  readonly pending: readonly number[];
  /** Blocks to be scanned first (imported `*` and `/` areas); see suspects.ts. */
  readonly suspects: readonly number[];
  /** Byte ranges that were never read (the scanner has not been there); absent: everything was read. */
  readonly unread?: readonly ByteRange[];
}

/** Number of blocks of main (the last one may be partial). */
export function blockCountOf(state: Pick<RemapState, "blockSize" | "sizeBytes">): number {
  return Math.ceil(state.sizeBytes / state.blockSize);
}

/** Sort ranges and merge overlapping or touching ones; drops empty ranges. */
export function coalesceRanges(ranges: readonly ByteRange[]): ByteRange[] {
  const sorted = ranges.filter((r) => r.lengthBytes > 0).sort((a, b) => a.startBytes - b.startBytes);
  const out: { startBytes: number; lengthBytes: number }[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.startBytes <= last.startBytes + last.lengthBytes) {
      last.lengthBytes = Math.max(last.lengthBytes, r.startBytes + r.lengthBytes - last.startBytes);
    } else out.push({ startBytes: r.startBytes, lengthBytes: r.lengthBytes });
  }
  return out;
}

/** Clip ranges to [0, sizeBytes). */
export function clipRanges(ranges: readonly ByteRange[], sizeBytes: number): ByteRange[] {
  const out: ByteRange[] = [];
  for (const r of ranges) {
    const start = Math.max(0, r.startBytes);
    const end = Math.min(sizeBytes, r.startBytes + r.lengthBytes);
    if (end > start) out.push({ startBytes: start, lengthBytes: end - start });
  }
  return out;
}

/** Shift every range by `deltaBytes` (may be negative). */
export function shiftRanges(ranges: readonly ByteRange[], deltaBytes: number): ByteRange[] {
  return ranges.map((r) => ({ startBytes: r.startBytes + deltaBytes, lengthBytes: r.lengthBytes }));
}

/** Every block of `blockSize` that a range touches, ascending, without duplicates. */
export function blocksTouched(ranges: readonly ByteRange[], blockSize: number): number[] {
  const out: number[] = [];
  for (const r of coalesceRanges(ranges)) {
    const first = Math.floor(r.startBytes / blockSize);
    const last = Math.floor((r.startBytes + r.lengthBytes - 1) / blockSize);
    for (let b = Math.max(first, out.length > 0 ? out[out.length - 1]! + 1 : first); b <= last; b++)
      out.push(b);
  }
  return out;
}

/** Byte ranges of whole blocks (the last block clipped to the device size). */
export function blockRanges(blocks: readonly number[], blockSize: number, sizeBytes: number): ByteRange[] {
  return clipRanges(
    coalesceRanges(blocks.map((b) => ({ startBytes: b * blockSize, lengthBytes: blockSize }))),
    sizeBytes,
  );
}

/** Byte ranges that read EIO on the exported device: pending blocks and lost sectors, coalesced. */
export function unreadableRanges(state: RemapState): ByteRange[] {
  const ranges = blockRanges(state.pending, state.blockSize, state.sizeBytes);
  for (const r of state.remapped) {
    for (const s of r.lostSectors) {
      ranges.push({ startBytes: r.block * state.blockSize + s * SECTOR_BYTES, lengthBytes: SECTOR_BYTES });
    }
  }
  return clipRanges(coalesceRanges(ranges), state.sizeBytes);
}

/** Byte ranges of remapped blocks (bad on main, safe on a spare), coalesced. */
export function remappedRanges(state: RemapState): ByteRange[] {
  return blockRanges(
    state.remapped.map((r) => r.block),
    state.blockSize,
    state.sizeBytes,
  );
}
