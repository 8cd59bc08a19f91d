// Helpers of the formats end-to-end tests: a failing disk exposed as a file (nbdkit's ddrescue filter
// over a file, mounted with nbdfuse), seeded bad sectors, and the blocks they touch.
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Prng } from "../../src/block/prng.js";
import { runCli } from "./harness.js";
import {
  mountNbdfuse,
  nbdUnixUri,
  seededBytes,
  startNbdkit,
  type FuseMount,
  type HelperProcess,
} from "./tools.js";

/** A half-open byte range. */
export interface Bad {
  readonly startBytes: number;
  readonly lengthBytes: number;
}

/** `count` seeded, disjoint runs of 1-9 bad sectors inside [fromBytes, toBytes), ascending. */
export function seededBadSectors(seed: number, count: number, fromBytes: number, toBytes: number): Bad[] {
  const rng = new Prng(seed);
  const out: Bad[] = [];
  const slice = Math.floor((toBytes - fromBytes) / count / 512);
  for (let i = 0; i < count; i++) {
    const sectors = 1 + rng.nextInt(9);
    const start = fromBytes + (i * slice + rng.nextInt(slice - sectors)) * 512;
    out.push({ startBytes: start, lengthBytes: sectors * 512 });
  }
  return out;
}

/** Blocks of `blockSize` that the bad ranges touch (minus `originBytes`), ascending. */
export function blocksOf(bad: readonly Bad[], blockSize: number, originBytes = 0): number[] {
  const out = new Set<number>();
  for (const b of bad) {
    const start = b.startBytes - originBytes;
    const end = start + b.lengthBytes;
    if (end <= 0) continue;
    for (let x = Math.floor(Math.max(0, start) / blockSize); x * blockSize < end; x++) out.add(x);
  }
  return [...out].sort((a, b) => a - b);
}

/** A mapfile in which exactly `bad` is `-` (what nbdkit's ddrescue filter serves as EIO). */
export function truthMapfile(bad: readonly Bad[], sizeBytes: number): string {
  const lines = ["0 +"];
  let at = 0;
  for (const b of bad) {
    if (b.startBytes > at) lines.push(`${at} ${b.startBytes - at} +`);
    lines.push(`${b.startBytes} ${b.lengthBytes} -`);
    at = b.startBytes + b.lengthBytes;
  }
  if (at < sizeBytes) lines.push(`${at} ${sizeBytes - at} +`);
  return lines.join("\n") + "\n";
}

/** A disk of seeded data whose `bad` sectors fail every read, as the file `file`. */
export interface FailingDisk {
  readonly file: string;
  readonly image: string;
  close(): Promise<void>;
}

/** Serve `bad` as failing sectors over a seeded image with nbdkit and mount it with nbdfuse. */
export async function failingDisk(dir: string, sizeBytes: number, bad: readonly Bad[]): Promise<FailingDisk> {
  const image = join(dir, "disk.img");
  await writeFile(image, seededBytes(77, sizeBytes));
  const truth = join(dir, "truth.map");
  await writeFile(truth, truthMapfile(bad, sizeBytes));
  const socket = join(dir, "disk.sock");
  const nbdkit: HelperProcess = await startNbdkit(socket, [
    "--filter=ddrescue",
    "file",
    `file=${image}`,
    `ddrescue-mapfile=${truth}`,
  ]);
  const mountDir = join(dir, "fuse");
  await mkdir(mountDir, { recursive: true });
  let fuse: FuseMount;
  try {
    fuse = await mountNbdfuse(mountDir, nbdUnixUri(socket, ""));
  } catch (err) {
    await nbdkit.stop();
    throw err;
  }
  return {
    file: fuse.file,
    image,
    async close() {
      await fuse.unmount();
      await nbdkit.stop();
    },
  };
}

/** Run `dmremap ARGS --json` and parse stdout; fails with stderr when it exits non-zero. */
export async function dmremapJson<T>(args: readonly string[]): Promise<T> {
  const result = await runCli([...args, "--json"]);
  if (result.code !== 0) throw new Error(`dmremap ${args.join(" ")} exited ${result.code}: ${result.stderr}`);
  return JSON.parse(result.stdout) as T;
}

/** The plan printed by `dmremap import ... --json`. */
export interface ImportAnswer {
  readonly dryRun: boolean;
  readonly plan: {
    readonly markPending: number[];
    readonly alreadyPending: number[];
    readonly alreadyRemapped: number[];
    readonly addSuspects: number[];
    readonly alreadySuspect: number[];
  };
}
