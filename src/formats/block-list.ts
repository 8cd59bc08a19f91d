// Block lists: one decimal number per line, as `badblocks -o` writes them and `e2fsck -l` /
// `mke2fs -l` read them. Numbers count units of `unitBytes` from a device starting at `offsetBytes` of main.
import { FormatSyntaxError } from "./errors.js";
import {
  blocksTouched,
  clipRanges,
  coalesceRanges,
  remappedRanges,
  shiftRanges,
  unreadableRanges,
  type ByteRange,
  type RemapState,
} from "./remap-state.js";

/** How list numbers map to bytes of main. */
export interface ListPlacement {
  /** Bytes per listed number (badblocks -b, the filesystem block size). */
  readonly unitBytes: number;
  /** The listed device (partition, filesystem) starts at this byte of main (default 0). */
  readonly offsetBytes?: number;
  /** Main starts at this byte of the listed device (a list of a whole disk, main a partition). */
  readonly mainOffsetBytes?: number;
}

/** Parse a block list; blank lines are ignored, anything else but a decimal number names its line. */
export function parseBlockList(text: string, source = "block list"): number[] {
  const out: number[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const token = lines[i]!.trim();
    if (token === "") continue;
    if (!/^\d+$/.test(token) || !Number.isSafeInteger(Number(token))) {
      throw new FormatSyntaxError(
        source,
        i + 1,
        `"${token}" is not a block number (one decimal number per line)`,
      );
    }
    out.push(Number(token));
  }
  return [...new Set(out)].sort((a, b) => a - b);
}

/** A block list as text, one number per line. */
export function formatBlockList(numbers: readonly number[]): string {
  return numbers.map((n) => `${n}\n`).join("");
}

function delta(placement: ListPlacement): number {
  return (placement.offsetBytes ?? 0) - (placement.mainOffsetBytes ?? 0);
}

/** The byte ranges of main that the listed numbers cover (clipped to main). */
export function rangesOfList(
  numbers: readonly number[],
  sizeBytes: number,
  placement: ListPlacement,
): ByteRange[] {
  const d = delta(placement);
  return clipRanges(
    coalesceRanges(
      numbers.map((n) => ({ startBytes: n * placement.unitBytes + d, lengthBytes: placement.unitBytes })),
    ),
    sizeBytes,
  );
}

/**
 * The list of a state: every unit touching a pending block or a lost sector (and, with
 * `includeRemapped`, a remapped block: bad on main though safe on a spare). Units before the listed
 * device's start are left out.
 */
export function listFromState(
  state: RemapState,
  placement: ListPlacement,
  options: { includeRemapped?: boolean } = {},
): number[] {
  const ranges = unreadableRanges(state);
  if (options.includeRemapped) ranges.push(...remappedRanges(state));
  const shifted = shiftRanges(coalesceRanges(ranges), -delta(placement));
  return blocksTouched(clipRanges(shifted, Number.MAX_SAFE_INTEGER), placement.unitBytes);
}
