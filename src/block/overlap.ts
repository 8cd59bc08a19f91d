// Overlap check of a set's devices: resolve every spec to the object its bytes live on (file by
// device + inode, block device by its whole disk, partitions and slices as byte ranges, NBD by URI)
// and refuse two regions that share a byte. The environment (stat, sysfs) is injected for tests.
import { readFile, realpath, stat } from "node:fs/promises";
import { decodeDeviceNumber } from "./block-sysfs.js";
import { parseDeviceSpec, type DeviceSpec } from "./device-spec.js";
import { OverlapError } from "./errors.js";

/** What stat says about a path, reduced to what the resolver needs. */
export type PathFacts =
  | { readonly kind: "file"; readonly dev: string; readonly ino: string; readonly sizeBytes: number }
  | { readonly kind: "block"; readonly major: number; readonly minor: number }
  | { readonly kind: "missing" }
  | { readonly kind: "other" };

/** A partition's place on its disk (from /sys/dev/block/M:m/{partition,start,size}). */
export interface PartitionFacts {
  readonly diskMajor: number;
  readonly diskMinor: number;
  readonly startBytes: number;
  readonly sizeBytes: number;
}

/** Where the resolver learns about paths and block devices. */
export interface ResolveEnv {
  statPath(path: string): Promise<PathFacts>;
  /** The partition facts of MAJOR:MINOR, or undefined for a whole disk. */
  partition(major: number, minor: number): Promise<PartitionFacts | undefined>;
  /** Size in bytes of block device MAJOR:MINOR (undefined when unknown). */
  blockSize(major: number, minor: number): Promise<number | undefined>;
}

/** The bytes of one underlying object that a spec covers. */
export interface Extent {
  /** Identity of the underlying object: "file:DEV:INO", "disk:MAJ:MIN", "nbd:URI"; undefined for mem:. */
  readonly object?: string;
  /** Human name of the underlying object (path of the file or disk, URI). */
  readonly objectName: string;
  readonly offsetBytes: number;
  /** Infinity when the size is unknown (an NBD export, a file that does not exist yet). */
  readonly lengthBytes: number;
}

/** One region a set uses, e.g. the main's exported range or a spare's metadata + slots. */
export interface Region {
  /** "main of target disk0", "spare 1 of target disk0". */
  readonly role: string;
  readonly spec: string;
  readonly extent: Extent;
}

/** Two regions that share bytes. */
export interface Overlap {
  readonly a: Region;
  readonly b: Region;
}

function strip(spec: DeviceSpec): {
  base: DeviceSpec;
  slices: { offsetBytes: number; lengthBytes?: number }[];
} {
  const slices: { offsetBytes: number; lengthBytes?: number }[] = [];
  let node = spec;
  for (;;) {
    if (node.type === "slice") {
      slices.push({
        offsetBytes: node.offsetBytes,
        ...(node.lengthBytes !== undefined ? { lengthBytes: node.lengthBytes } : {}),
      });
      node = node.lower;
    } else if (node.type === "fault") node = node.lower;
    else return { base: node, slices };
  }
}

/** Normalise an NBD URI so that the same export written twice compares equal. */
function normaliseUri(uri: string): string {
  try {
    const u = new URL(uri);
    return `${u.protocol}//${u.host}${u.pathname}${u.search}`;
  } catch {
    return uri;
  }
}

async function resolveBase(base: DeviceSpec, env: ResolveEnv): Promise<Extent> {
  switch (base.type) {
    case "mem":
      return { objectName: `mem:${base.sizeBytes}`, offsetBytes: 0, lengthBytes: base.sizeBytes };
    case "nbd": {
      const uri = normaliseUri(base.uri);
      return { object: `nbd:${uri}`, objectName: base.uri, offsetBytes: 0, lengthBytes: Infinity };
    }
    case "file": {
      const facts = await env.statPath(base.path);
      if (facts.kind === "file") {
        return {
          object: `file:${facts.dev}:${facts.ino}`,
          objectName: base.path,
          offsetBytes: 0,
          lengthBytes: facts.sizeBytes,
        };
      }
      if (facts.kind === "block") {
        const part = await env.partition(facts.major, facts.minor);
        if (part) {
          return {
            object: `disk:${part.diskMajor}:${part.diskMinor}`,
            objectName: `${base.path} (partition of disk ${part.diskMajor}:${part.diskMinor})`,
            offsetBytes: part.startBytes,
            lengthBytes: part.sizeBytes,
          };
        }
        const size = await env.blockSize(facts.major, facts.minor);
        return {
          object: `disk:${facts.major}:${facts.minor}`,
          objectName: base.path,
          offsetBytes: 0,
          lengthBytes: size ?? Infinity,
        };
      }
      // A file that does not exist yet (create = true) is identified by its path.
      return { object: `path:${base.path}`, objectName: base.path, offsetBytes: 0, lengthBytes: Infinity };
    }
    default:
      throw new Error(`not a base device: ${base.type}`);
  }
}

/** Resolve a device spec to the byte range of the object it lives on. */
export async function resolveExtent(spec: string, env: ResolveEnv): Promise<Extent> {
  const { base, slices } = strip(parseDeviceSpec(spec));
  let extent = await resolveBase(base, env);
  // Slices are listed outermost first: apply the innermost (closest to the base) first.
  for (const slice of [...slices].reverse()) {
    const remaining = extent.lengthBytes - slice.offsetBytes;
    const lengthBytes =
      slice.lengthBytes === undefined ? remaining : Math.min(slice.lengthBytes, Math.max(0, remaining));
    extent = {
      ...extent,
      offsetBytes: extent.offsetBytes + slice.offsetBytes,
      lengthBytes: Math.max(0, lengthBytes),
    };
  }
  return extent;
}

/** True when two extents share at least one byte. */
export function extentsOverlap(a: Extent, b: Extent): boolean {
  if (a.object === undefined || a.object !== b.object) return false;
  if (a.lengthBytes <= 0 || b.lengthBytes <= 0) return false;
  return a.offsetBytes < b.offsetBytes + b.lengthBytes && b.offsetBytes < a.offsetBytes + a.lengthBytes;
}

/** Every pair of regions that overlap, in input order. */
export function findOverlaps(regions: readonly Region[]): Overlap[] {
  const out: Overlap[] = [];
  for (let i = 0; i < regions.length; i++) {
    for (let j = i + 1; j < regions.length; j++) {
      if (extentsOverlap(regions[i]!.extent, regions[j]!.extent))
        out.push({ a: regions[i]!, b: regions[j]! });
    }
  }
  return out;
}

function range(e: Extent): string {
  const end = e.offsetBytes + e.lengthBytes;
  return `bytes ${e.offsetBytes}-${Number.isFinite(end) ? end - 1 : "end"} of ${e.objectName}`;
}

/** One line naming both devices and both byte ranges. */
export function describeOverlap(o: Overlap): string {
  return `${o.a.role} "${o.a.spec}" (${range(o.a.extent)}) overlaps ${o.b.role} "${o.b.spec}" (${range(o.b.extent)})`;
}

/** Throw OverlapError when any two regions share a byte. */
export function assertNoOverlap(regions: readonly Region[]): void {
  const overlaps = findOverlaps(regions);
  if (overlaps.length === 0) return;
  const first = overlaps[0]!;
  throw new OverlapError(first.a.spec, first.b.spec, overlaps.map(describeOverlap).join("; "));
}

/** A region per role and spec, resolved with `env`. */
export async function resolveRegions(
  specs: readonly { role: string; spec: string }[],
  env: ResolveEnv = systemResolveEnv(),
): Promise<Region[]> {
  const out: Region[] = [];
  for (const s of specs) out.push({ ...s, extent: await resolveExtent(s.spec, env) });
  return out;
}

async function readNumber(path: string): Promise<number | undefined> {
  const text = await readFile(path, "utf8").then(
    (t) => t.trim(),
    () => undefined,
  );
  return text !== undefined && /^\d+$/.test(text) ? Number(text) : undefined;
}

/** The resolver environment of this machine: stat(2) and /sys/dev/block. */
export function systemResolveEnv(sysfsRoot = "/sys"): ResolveEnv {
  return {
    async statPath(path) {
      let st;
      try {
        st = await stat(path, { bigint: true });
      } catch {
        return { kind: "missing" };
      }
      if (st.isFile())
        return { kind: "file", dev: String(st.dev), ino: String(st.ino), sizeBytes: Number(st.size) };
      if (st.isBlockDevice()) return { kind: "block", ...decodeDeviceNumber(st.rdev) };
      return { kind: "other" };
    },
    async partition(major, minor) {
      const dir = `${sysfsRoot}/dev/block/${major}:${minor}`;
      if ((await readNumber(`${dir}/partition`)) === undefined) return undefined;
      const start = await readNumber(`${dir}/start`);
      const size = await readNumber(`${dir}/size`);
      const parentDev = await readFile(`${await realpath(dir)}/../dev`, "utf8").then(
        (t) => t.trim(),
        () => undefined,
      );
      const m = parentDev ? /^(\d+):(\d+)$/.exec(parentDev) : null;
      if (start === undefined || size === undefined || !m) return undefined;
      return {
        diskMajor: Number(m[1]),
        diskMinor: Number(m[2]),
        startBytes: start * 512,
        sizeBytes: size * 512,
      };
    },
    async blockSize(major, minor) {
      const sectors = await readNumber(`${sysfsRoot}/dev/block/${major}:${minor}/size`);
      return sectors === undefined ? undefined : sectors * 512;
    },
  };
}
