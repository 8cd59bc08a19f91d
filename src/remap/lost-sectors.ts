// Lost-sector masks: bit i = 512-byte sector i of a block (LSB-first per byte), as in the "lost" record.

/** Bytes per sector of a lost-sector mask. */
export const SECTOR_BYTES = 512;

/** A mask with no sector marked, for a block of `blockSize` bytes. */
export function emptyMask(blockSize: number): Uint8Array {
  return new Uint8Array(Math.ceil(blockSize / SECTOR_BYTES / 8));
}

/** True when sector `sector` is marked. */
export function isLost(mask: Uint8Array, sector: number): boolean {
  return (mask[sector >>> 3]! & (1 << (sector & 7))) !== 0;
}

/** Mark or clear sector `sector`. */
export function setLost(mask: Uint8Array, sector: number, lost: boolean): void {
  if (lost) mask[sector >>> 3]! |= 1 << (sector & 7);
  else mask[sector >>> 3]! &= ~(1 << (sector & 7));
}

/** Number of marked sectors. */
export function countLost(mask: Uint8Array): number {
  let n = 0;
  for (let byte of mask) {
    while (byte) {
      n += byte & 1;
      byte >>>= 1;
    }
  }
  return n;
}

/** True when any marked sector overlaps bytes [withinBytes, withinBytes + lengthBytes) of the block. */
export function anyLostIn(mask: Uint8Array, withinBytes: number, lengthBytes: number): boolean {
  const first = Math.floor(withinBytes / SECTOR_BYTES);
  const last = Math.floor((withinBytes + lengthBytes - 1) / SECTOR_BYTES);
  for (let s = first; s <= last; s++) if (isLost(mask, s)) return true;
  return false;
}

/** Copy of `mask` without the sectors fully covered by bytes [withinBytes, withinBytes + lengthBytes). */
export function clearCovered(mask: Uint8Array, withinBytes: number, lengthBytes: number): Uint8Array {
  const out = Uint8Array.from(mask);
  const first = Math.ceil(withinBytes / SECTOR_BYTES);
  const end = Math.floor((withinBytes + lengthBytes) / SECTOR_BYTES);
  for (let s = first; s < end; s++) setLost(out, s, false);
  return out;
}

/** True when no sector is marked. */
export function isEmptyMask(mask: Uint8Array): boolean {
  return mask.every((b) => b === 0);
}

/** A mask marking every sector of the block not fully covered by [withinBytes, withinBytes + lengthBytes). */
export function uncoveredMask(blockSize: number, withinBytes: number, lengthBytes: number): Uint8Array {
  const mask = emptyMask(blockSize);
  const sectors = blockSize / SECTOR_BYTES;
  for (let s = 0; s < sectors; s++) setLost(mask, s, true);
  return clearCovered(mask, withinBytes, lengthBytes);
}
