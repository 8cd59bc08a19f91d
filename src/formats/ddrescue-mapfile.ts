// GNU ddrescue mapfiles: parse and write the format as the ddrescue manual ("Mapfile structure")
// describes it, and convert between a mapfile and a set's state (bad areas, suspects, never read).
import { formatHex, parseCppInteger } from "./cpp-integer.js";
import { FormatSyntaxError } from "./errors.js";
import {
  blockRanges,
  clipRanges,
  coalesceRanges,
  remappedRanges,
  unreadableRanges,
  type ByteRange,
  type RemapState,
} from "./remap-state.js";

/** Status characters of the status line (what ddrescue was doing). */
export const MAPFILE_PHASES = ["?", "*", "/", "-", "F", "G", "+"] as const;
export type MapfilePhase = (typeof MAPFILE_PHASES)[number];

/** Status characters of a block line. */
export const MAPFILE_BLOCK_STATES = ["?", "*", "/", "-", "+"] as const;
/** `?` non-tried, `*` failed non-trimmed, `/` failed non-scraped, `-` bad sector(s), `+` finished. */
export type MapfileBlockState = (typeof MAPFILE_BLOCK_STATES)[number];

/** One block line. */
export interface MapfileBlock {
  readonly posBytes: number;
  readonly sizeBytes: number;
  readonly state: MapfileBlockState;
}

/** A parsed mapfile. */
export interface Mapfile {
  readonly currentPosBytes: number;
  readonly currentPhase: MapfilePhase;
  /** Absent in mapfiles written without the pass field (older ddrescue). */
  readonly currentPass?: number;
  readonly blocks: readonly MapfileBlock[];
}

/** The text of `line` without its comment ('#' at the start or after whitespace). */
function stripComment(line: string): string {
  for (let i = 0; i < line.length; i++) {
    if (line[i] === "#" && (i === 0 || line[i - 1] === " " || line[i - 1] === "\t")) return line.slice(0, i);
  }
  return line;
}

/** Parse a mapfile; errors name the line (`source` names the file in messages). */
export function parseMapfile(text: string, source = "mapfile"): Mapfile {
  const lines = text.split("\n");
  let status: Omit<Mapfile, "blocks"> | undefined;
  const blocks: MapfileBlock[] = [];
  const fail = (lineNo: number, detail: string): never => {
    throw new FormatSyntaxError(source, lineNo, detail);
  };
  const integer = (lineNo: number, token: string, what: string): number => {
    const parsed = parseCppInteger(token);
    if ("problem" in parsed) return fail(lineNo, `${what}: ${parsed.problem}`);
    return parsed.value;
  };
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const tokens = stripComment(lines[i]!.replace(/\r$/, ""))
      .trim()
      .split(/[ \t]+/)
      .filter((t) => t !== "");
    if (tokens.length === 0) continue;
    if (!status) {
      if (tokens.length < 2 || tokens.length > 3) {
        fail(
          lineNo,
          `status line needs "current_pos current_status [current_pass]", got ${tokens.length} fields`,
        );
      }
      const pos = integer(lineNo, tokens[0]!, "current_pos");
      const phase = tokens[1]!;
      if (!(MAPFILE_PHASES as readonly string[]).includes(phase)) {
        fail(lineNo, `current_status "${phase}" is not one of ${MAPFILE_PHASES.join(" ")}`);
      }
      let pass: number | undefined;
      if (tokens.length === 3) {
        if (!/^[1-9][0-9]*$/.test(tokens[2]!) || !Number.isSafeInteger(Number(tokens[2]))) {
          fail(lineNo, `current_pass "${tokens[2]}" is not a positive decimal integer`);
        }
        pass = Number(tokens[2]);
      }
      status = {
        currentPosBytes: pos,
        currentPhase: phase as MapfilePhase,
        ...(pass !== undefined ? { currentPass: pass } : {}),
      };
      continue;
    }
    if (tokens.length !== 3) fail(lineNo, `block line needs "pos size status", got ${tokens.length} fields`);
    const pos = integer(lineNo, tokens[0]!, "pos");
    const size = integer(lineNo, tokens[1]!, "size");
    const state = tokens[2]!;
    if (!(MAPFILE_BLOCK_STATES as readonly string[]).includes(state)) {
      fail(lineNo, `block status "${state}" is not one of ${MAPFILE_BLOCK_STATES.join(" ")}`);
    }
    if (!Number.isSafeInteger(pos + size)) fail(lineNo, `block ${tokens[0]} + ${tokens[1]} is too large`);
    const previous = blocks[blocks.length - 1];
    if (previous && pos !== previous.posBytes + previous.sizeBytes) {
      const end = previous.posBytes + previous.sizeBytes;
      fail(
        lineNo,
        pos < end
          ? `block at ${tokens[0]} overlaps the previous block (which ends at ${formatHex(end)})`
          : `block at ${tokens[0]} leaves a gap after the previous block (which ends at ${formatHex(end)})`,
      );
    }
    blocks.push({ posBytes: pos, sizeBytes: size, state: state as MapfileBlockState });
  }
  if (!status)
    throw new FormatSyntaxError(source, lines.length, "no status line (the file has only comments)");
  return { ...status, blocks };
}

/** Write a mapfile in ddrescue's own layout (comment lines first). */
export function formatMapfile(mapfile: Mapfile, comments: readonly string[] = []): string {
  const out = comments.map((c) => `# ${c}`);
  out.push("# current_pos  current_status  current_pass");
  const pass = mapfile.currentPass !== undefined ? `               ${mapfile.currentPass}` : "";
  out.push(`${formatHex(mapfile.currentPosBytes)}     ${mapfile.currentPhase}${pass}`);
  out.push("#      pos        size  status");
  for (const b of mapfile.blocks) out.push(`${formatHex(b.posBytes)}  ${formatHex(b.sizeBytes)}  ${b.state}`);
  return out.join("\n") + "\n";
}

/** Where the mapfile's positions lie relative to main. */
export interface MapfilePlacement {
  /** The device the mapfile describes starts at this byte of main (default 0). */
  readonly offsetBytes?: number;
  /** Main starts at this byte of the device the mapfile describes (a whole-disk mapfile, main a partition). */
  readonly mainOffsetBytes?: number;
}

/** Bytes to add to a mapfile position to get a byte of main. */
export function placementDelta(placement: MapfilePlacement): number {
  return (placement.offsetBytes ?? 0) - (placement.mainOffsetBytes ?? 0);
}

/**
 * The mapfile of a state: `-` where reads fail (pending blocks, lost sectors), `*` over suspect blocks,
 * `?` where nothing was ever read (remapped blocks excepted), `+` elsewhere (remapped blocks included:
 * their data is safe).
 */
export function mapfileFromState(state: RemapState, placement: MapfilePlacement = {}): Mapfile {
  const size = state.sizeBytes;
  const layers: { state: MapfileBlockState; ranges: ByteRange[] }[] = [
    { state: "-", ranges: unreadableRanges(state) },
    { state: "*", ranges: blockRanges(state.suspects, state.blockSize, size) },
    // Remapped data was read (or written) when it moved: never `?`.
    { state: "+", ranges: remappedRanges(state) },
    { state: "?", ranges: clipRanges(coalesceRanges(state.unread ?? []), size) },
  ];
  // Paint from the lowest priority up: each byte takes the first layer (in the order above) that covers it.
  let segments: MapfileBlock[] = [{ posBytes: 0, sizeBytes: size, state: "+" }];
  for (let l = layers.length - 1; l >= 0; l--)
    segments = paint(segments, layers[l]!.ranges, layers[l]!.state);
  const delta = -placementDelta(placement);
  // Main bytes before the described device's start (--offset) are left out; a straddling block is cut.
  const blocks = segments
    .map((s) => {
      const start = Math.max(0, s.posBytes + delta);
      return { ...s, posBytes: start, sizeBytes: s.posBytes + delta + s.sizeBytes - start };
    })
    .filter((s) => s.sizeBytes > 0);
  // Bytes of the described device before main are unknown to dmremap: non-tried.
  if (blocks.length > 0 && blocks[0]!.posBytes > 0)
    blocks.unshift({ posBytes: 0, sizeBytes: blocks[0]!.posBytes, state: "?" });
  const finished = !blocks.some((b) => b.state === "?");
  return { currentPosBytes: 0, currentPhase: finished ? "+" : "?", currentPass: 1, blocks };
}

/** Overwrite `ranges` (sorted, disjoint) of a contiguous segment list with `state`, merging neighbours. */
function paint(
  segments: readonly MapfileBlock[],
  ranges: readonly ByteRange[],
  state: MapfileBlockState,
): MapfileBlock[] {
  const out: MapfileBlock[] = [];
  const push = (posBytes: number, sizeBytes: number, s: MapfileBlockState) => {
    if (sizeBytes <= 0) return;
    const last = out[out.length - 1];
    if (last && last.state === s && last.posBytes + last.sizeBytes === posBytes) {
      out[out.length - 1] = { ...last, sizeBytes: last.sizeBytes + sizeBytes };
    } else out.push({ posBytes, sizeBytes, state: s });
  };
  let r = 0;
  for (const seg of segments) {
    let at = seg.posBytes;
    const end = seg.posBytes + seg.sizeBytes;
    while (at < end) {
      while (r < ranges.length && ranges[r]!.startBytes + ranges[r]!.lengthBytes <= at) r++;
      const range = ranges[r];
      if (!range || range.startBytes >= end) {
        push(at, end - at, seg.state);
        at = end;
      } else if (range.startBytes > at) {
        push(at, range.startBytes - at, seg.state);
        at = range.startBytes;
      } else {
        const stop = Math.min(end, range.startBytes + range.lengthBytes);
        push(at, stop - at, state);
        at = stop;
      }
    }
  }
  return out;
}

/** What a mapfile says about main: bad areas (`-`), suspect areas (`*`, `/`), in bytes of main. */
export interface MapfileFindings {
  readonly bad: ByteRange[];
  readonly suspect: ByteRange[];
  /** Bytes of `-`, `*` or `/` areas that lie outside main (before it or past its end). */
  readonly outsideBytes: number;
}

/** Read the bad and suspect areas of a mapfile, placed on a main of `sizeBytes`. */
export function findingsOfMapfile(
  mapfile: Mapfile,
  sizeBytes: number,
  placement: MapfilePlacement = {},
): MapfileFindings {
  const delta = placementDelta(placement);
  const bad: ByteRange[] = [];
  const suspect: ByteRange[] = [];
  for (const b of mapfile.blocks) {
    const range = { startBytes: b.posBytes + delta, lengthBytes: b.sizeBytes };
    if (b.state === "-") bad.push(range);
    else if (b.state === "*" || b.state === "/") suspect.push(range);
  }
  const all = coalesceRanges([...bad, ...suspect]);
  const inside = clipRanges(all, sizeBytes).reduce((n, r) => n + r.lengthBytes, 0);
  const total = all.reduce((n, r) => n + r.lengthBytes, 0);
  return {
    bad: clipRanges(coalesceRanges(bad), sizeBytes),
    suspect: clipRanges(coalesceRanges(suspect), sizeBytes),
    outsideBytes: total - inside,
  };
}
