// A small simulator of device-mapper's linear and error targets over in-memory images: what the
// kernel would serve for a table, sector by sector (used to check exported tables byte for byte).
import type { DmSegment } from "./dm-table.js";
import { SECTOR_BYTES } from "./remap-state.js";

/** Contents of one sector: its bytes, or "error" where the table says error. */
export type SimulatedSector = Uint8Array | "error";

/** Serves a table from images keyed by device path. */
export class DmSimulator {
  readonly sizeSectors: number;

  constructor(
    private readonly segments: readonly DmSegment[],
    private readonly images: ReadonlyMap<string, Uint8Array>,
  ) {
    let at = 0;
    for (const s of segments) {
      if (s.startSector !== at)
        throw new RangeError(`segment at sector ${s.startSector} leaves a gap after ${at}`);
      if (s.target === "linear") {
        const image = images.get(s.device);
        if (!image) throw new RangeError(`no image for device ${s.device}`);
        if ((s.offsetSectors + s.lengthSectors) * SECTOR_BYTES > image.length) {
          throw new RangeError(`segment at sector ${s.startSector} reads past the end of ${s.device}`);
        }
      }
      at += s.lengthSectors;
    }
    this.sizeSectors = at;
  }

  /** What a read of `sector` returns. */
  readSector(sector: number): SimulatedSector {
    let lo = 0;
    let hi = this.segments.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.segments[mid]!.startSector <= sector) lo = mid;
      else hi = mid - 1;
    }
    const s = this.segments[lo];
    if (!s || sector < s.startSector || sector >= s.startSector + s.lengthSectors) {
      throw new RangeError(`sector ${sector} is outside the table (0..${this.sizeSectors - 1})`);
    }
    if (s.target === "error") return "error";
    const at = (s.offsetSectors + sector - s.startSector) * SECTOR_BYTES;
    return this.images.get(s.device)!.subarray(at, at + SECTOR_BYTES);
  }
}
