// Reads an ext2/3/4 filesystem's layout and block owners with e2fsprogs (dumpe2fs, debugfs icheck /
// ncheck), for images or devices where the filesystem starts `offsetBytes` in (e2fsprogs' ?offset=).
import { execFile } from "node:child_process";
import { ProbeError } from "./errors.js";

/** A range of filesystem blocks holding metadata. */
export interface MetadataExtent {
  readonly firstBlock: number;
  readonly lastBlock: number;
  /** "superblock", "group descriptors", "reserved GDT blocks", "block bitmap", "inode bitmap", "inode table". */
  readonly what: string;
  readonly group: number;
}

/** What dumpe2fs says about the layout. */
export interface Ext4Layout {
  readonly blockSize: number;
  readonly blockCount: number;
  readonly firstDataBlock: number;
  readonly metadata: readonly MetadataExtent[];
}

/** Names of the reserved inodes that own blocks (ext4's special inodes). */
export const SPECIAL_INODES: Readonly<Record<number, string>> = {
  1: "bad blocks inode",
  2: "root directory",
  5: "boot loader inode",
  7: "resize inode (reserved GDT blocks)",
  8: "journal",
};

/** Parse `dumpe2fs` output (header and groups). */
export function parseDumpe2fs(text: string): Ext4Layout {
  const header = (name: string): number => {
    const m = new RegExp(`^${name}:\\s+(\\d+)`, "m").exec(text);
    if (!m) throw new ProbeError("dumpe2fs", `no "${name}" in its output: is this an ext2/3/4 filesystem?`);
    return Number(m[1]);
  };
  const metadata: MetadataExtent[] = [];
  let group = -1;
  const add = (what: string, first: string, last?: string) =>
    metadata.push({ firstBlock: Number(first), lastBlock: Number(last ?? first), what, group });
  for (const line of text.split("\n")) {
    const g = /^Group (\d+):/.exec(line);
    if (g) group = Number(g[1]);
    if (group < 0) continue;
    const sb = /(?:Primary|Backup) superblock at (\d+)/.exec(line);
    if (sb) add("superblock", sb[1]!);
    const gd = /Group descriptors at (\d+)-(\d+)/.exec(line);
    if (gd) add("group descriptors", gd[1]!, gd[2]!);
    const rg = /Reserved GDT blocks at (\d+)-(\d+)/.exec(line);
    if (rg) add("reserved GDT blocks", rg[1]!, rg[2]!);
    const bb = /^\s*Block bitmap at (\d+)/.exec(line);
    if (bb) add("block bitmap", bb[1]!);
    const ib = /^\s*Inode bitmap at (\d+)/.exec(line);
    if (ib) add("inode bitmap", ib[1]!);
    const it = /^\s*Inode table at (\d+)-(\d+)/.exec(line);
    if (it) add("inode table", it[1]!, it[2]!);
  }
  return {
    blockSize: header("Block size"),
    blockCount: header("Block count"),
    firstDataBlock: header("First block"),
    metadata,
  };
}

/** Parse `icheck` output: block -> owning inode, or null for "<block not found>". */
export function parseIcheck(text: string): Map<number, number | null> {
  const out = new Map<number, number | null>();
  for (const line of text.split("\n")) {
    const m = /^(\d+)\t(\d+|<block not found>)\s*$/.exec(line);
    if (m) out.set(Number(m[1]), m[2]!.startsWith("<") ? null : Number(m[2]));
  }
  return out;
}

/** Parse `ncheck` output: inode -> its paths (hard links), with doubled slashes collapsed. */
export function parseNcheck(text: string): Map<number, string[]> {
  const out = new Map<number, string[]>();
  for (const line of text.split("\n")) {
    const m = /^(\d+)\t(.+)$/.exec(line);
    if (!m) continue;
    const inode = Number(m[1]);
    const path = m[2]!.replace(/\/{2,}/g, "/");
    out.set(inode, [...(out.get(inode) ?? []), path]);
  }
  return out;
}

/** The e2fsprogs name of a filesystem `offsetBytes` into `image`. */
export function deviceName(image: string, offsetBytes: number): string {
  return offsetBytes > 0 ? `${image}?offset=${offsetBytes}` : image;
}

function runTool(
  file: string,
  args: readonly string[],
  input?: string,
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { maxBuffer: 256 << 20, timeout: 600_000 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== "number") {
        reject(
          new ProbeError(file, `could not run ${file} (${err.message}); install e2fsprogs`, { cause: err }),
        );
      } else if (err) reject(new ProbeError(file, `exited ${String(err.code)}: ${String(stderr).trim()}`));
      else resolve({ stdout: String(stdout), stderr: String(stderr) });
    });
    // A tool that exits before reading its input closes the pipe: its exit status tells, not EPIPE.
    child.stdin?.on("error", () => undefined);
    child.stdin?.end(input ?? "");
  });
}

/** The filesystem layout (dumpe2fs). */
export async function probeLayout(image: string, offsetBytes: number): Promise<Ext4Layout> {
  const { stdout } = await runTool("dumpe2fs", [deviceName(image, offsetBytes)]);
  return parseDumpe2fs(stdout);
}

/** Run debugfs commands (read-only), failing when debugfs could not open the filesystem. */
async function debugfs(image: string, offsetBytes: number, commands: readonly string[]): Promise<string> {
  const { stdout, stderr } = await runTool(
    "debugfs",
    ["-f", "-", deviceName(image, offsetBytes)],
    commands.join("\n") + "\n",
  );
  const trouble = /while (trying to open|opening filesystem)|Filesystem not open|while reading/.exec(stderr);
  if (trouble) throw new ProbeError("debugfs", stderr.trim().split("\n").slice(-3).join("; "));
  return stdout;
}

const BATCH = 200;

/** Owners of `blocks` (icheck) and the paths of those inodes (ncheck). */
export async function probeOwners(
  image: string,
  offsetBytes: number,
  blocks: readonly number[],
): Promise<{ owners: Map<number, number | null>; paths: Map<number, string[]> }> {
  const owners = new Map<number, number | null>();
  for (let i = 0; i < blocks.length; i += BATCH) {
    const out = await debugfs(image, offsetBytes, [`icheck ${blocks.slice(i, i + BATCH).join(" ")}`]);
    for (const [b, inode] of parseIcheck(out)) owners.set(b, inode);
  }
  const inodes = [...new Set([...owners.values()].filter((x): x is number => x !== null))];
  const paths = new Map<number, string[]>();
  for (let i = 0; i < inodes.length; i += BATCH) {
    const out = await debugfs(image, offsetBytes, [`ncheck ${inodes.slice(i, i + BATCH).join(" ")}`]);
    for (const [inode, p] of parseNcheck(out)) paths.set(inode, p);
  }
  return { owners, paths };
}
