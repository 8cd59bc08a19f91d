// Device-mapper tables (`start length linear dev offset` / `start length error`, 512-byte sectors)
// that make the kernel serve a set's current state natively: healthy runs linear on main, remapped
// blocks linear on their spare slots, pending blocks and lost sectors as error; gap-free, coalesced.
import { FormatSyntaxError } from "./errors.js";
import { SECTOR_BYTES, type RemapState } from "./remap-state.js";

/** One table line. */
export type DmSegment =
  | {
      readonly startSector: number;
      readonly lengthSectors: number;
      readonly target: "linear";
      readonly device: string;
      readonly offsetSectors: number;
    }
  | { readonly startSector: number; readonly lengthSectors: number; readonly target: "error" };

/** Device paths of the table: main and every spare (by spare index). */
export interface DmPaths {
  readonly mainPath: string;
  readonly sparePaths: readonly string[];
}

/** Appends segments, merging one into the previous when it continues it. */
class SegmentBuilder {
  readonly segments: DmSegment[] = [];
  private at = 0;

  linear(lengthSectors: number, device: string, offsetSectors: number): void {
    const last = this.segments[this.segments.length - 1];
    if (
      last?.target === "linear" &&
      last.device === device &&
      last.offsetSectors + last.lengthSectors === offsetSectors
    ) {
      this.segments[this.segments.length - 1] = {
        ...last,
        lengthSectors: last.lengthSectors + lengthSectors,
      };
    } else
      this.segments.push({ startSector: this.at, lengthSectors, target: "linear", device, offsetSectors });
    this.at += lengthSectors;
  }

  error(lengthSectors: number): void {
    const last = this.segments[this.segments.length - 1];
    if (last?.target === "error") {
      this.segments[this.segments.length - 1] = {
        ...last,
        lengthSectors: last.lengthSectors + lengthSectors,
      };
    } else this.segments.push({ startSector: this.at, lengthSectors, target: "error" });
    this.at += lengthSectors;
  }

  get sector(): number {
    return this.at;
  }
}

/** The table of a state. Main's size must be a multiple of 512 bytes. */
export function dmTableFromState(state: RemapState, paths: DmPaths): DmSegment[] {
  if (state.sizeBytes % SECTOR_BYTES !== 0) {
    throw new RangeError(
      `main size ${state.sizeBytes} is not a multiple of ${SECTOR_BYTES} bytes: no dm table can describe it`,
    );
  }
  const totalSectors = state.sizeBytes / SECTOR_BYTES;
  const perBlock = state.blockSize / SECTOR_BYTES;
  const special = new Map<number, RemapState["remapped"][number] | "pending">();
  for (const b of state.pending) special.set(b, "pending");
  for (const r of state.remapped) {
    if (r.spare < 0 || r.spare >= paths.sparePaths.length) {
      throw new RangeError(
        `block ${r.block} is remapped to spare ${r.spare}, but only ${paths.sparePaths.length} spare path(s) were given`,
      );
    }
    special.set(r.block, r);
  }
  const out = new SegmentBuilder();
  for (const block of [...special.keys()].sort((a, b) => a - b)) {
    const start = block * perBlock;
    if (start >= totalSectors) continue;
    if (start > out.sector) out.linear(start - out.sector, paths.mainPath, out.sector);
    const sectors = Math.min(perBlock, totalSectors - start);
    const entry = special.get(block)!;
    if (entry === "pending") {
      out.error(sectors);
      continue;
    }
    const lost = new Set(entry.lostSectors);
    const spareStart = entry.spareOffsetBytes / SECTOR_BYTES;
    for (let s = 0; s < sectors; s++) {
      if (lost.has(s)) out.error(1);
      else out.linear(1, paths.sparePaths[entry.spare]!, spareStart + s);
    }
  }
  if (out.sector < totalSectors) out.linear(totalSectors - out.sector, paths.mainPath, out.sector);
  return out.segments;
}

/** The table as `dmsetup create NAME` reads it on stdin. */
export function formatDmTable(segments: readonly DmSegment[]): string {
  return segments
    .map((s) =>
      s.target === "linear"
        ? `${s.startSector} ${s.lengthSectors} linear ${s.device} ${s.offsetSectors}\n`
        : `${s.startSector} ${s.lengthSectors} error\n`,
    )
    .join("");
}

/** Parse a table of linear and error targets; it must be gap-free from sector 0. */
export function parseDmTable(text: string, source = "dm table"): DmSegment[] {
  const out: DmSegment[] = [];
  let at = 0;
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const tokens = lines[i]!.trim()
      .split(/\s+/)
      .filter((t) => t !== "");
    if (tokens.length === 0 || tokens[0]!.startsWith("#")) continue;
    const fail = (detail: string): never => {
      throw new FormatSyntaxError(source, i + 1, detail);
    };
    const num = (t: string | undefined, what: string): number => {
      if (t === undefined || !/^\d+$/.test(t) || !Number.isSafeInteger(Number(t)))
        fail(`${what} "${t ?? ""}" is not a sector number`);
      return Number(t);
    };
    const start = num(tokens[0], "start");
    const length = num(tokens[1], "length");
    if (length === 0) fail("length is 0");
    if (start !== at) fail(`segment starts at sector ${start}, expected ${at} (tables are gap-free)`);
    if (tokens[2] === "linear") {
      if (tokens.length !== 5)
        fail(`linear needs "start length linear dev offset", got ${tokens.length} fields`);
      out.push({
        startSector: start,
        lengthSectors: length,
        target: "linear",
        device: tokens[3]!,
        offsetSectors: num(tokens[4], "offset"),
      });
    } else if (tokens[2] === "error") {
      if (tokens.length !== 3) fail(`error takes no arguments, got ${tokens.length - 3}`);
      out.push({ startSector: start, lengthSectors: length, target: "error" });
    } else fail(`target "${tokens[2] ?? ""}" is not linear or error`);
    at = start + length;
  }
  return out;
}
