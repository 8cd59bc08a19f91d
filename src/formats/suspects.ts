// Suspect blocks: areas another tool found slow or failing but not yet proven bad (ddrescue `*` and `/`).
// Kept in a small JSON file per set, <state dir>/<set uuid>.suspects.json, which the scanner reads to
// scan these blocks first and rewrites without the blocks it has read. Writes are atomic (temp file,
// fsync, rename, fsync of the directory).
import { mkdir, open, readFile, rename } from "node:fs/promises";
import { join } from "node:path";
import { FormatSyntaxError } from "./errors.js";

/** Default directory of per-set side files (env DMREMAP_STATE_DIR overrides). */
export const DEFAULT_STATE_DIR = "/var/lib/dmremap";

/** The state directory: `dir` when given, else DMREMAP_STATE_DIR, else /var/lib/dmremap. */
export function stateDir(dir?: string): string {
  return dir ?? process.env.DMREMAP_STATE_DIR ?? DEFAULT_STATE_DIR;
}

/** Path of the suspects file of set `setUuid`. */
export function suspectsPath(dir: string, setUuid: string): string {
  if (!/^[0-9a-fA-F-]+$/.test(setUuid)) throw new RangeError(`set uuid "${setUuid}" is not a uuid`);
  return join(dir, `${setUuid}.suspects.json`);
}

/** The file's content. */
export interface SuspectsFile {
  readonly format: "dmremap-suspects";
  readonly version: 1;
  readonly setUuid: string;
  readonly blockSize: number;
  /** Suspect blocks, ascending. */
  readonly blocks: readonly number[];
}

/** Suspect blocks of the set (empty when the file does not exist). */
export async function readSuspects(path: string): Promise<number[]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
  let parsed: Partial<SuspectsFile>;
  try {
    parsed = JSON.parse(text) as Partial<SuspectsFile>;
  } catch (err) {
    throw new FormatSyntaxError(path, 1, `not JSON (${(err as Error).message})`);
  }
  const blocks = parsed.blocks;
  if (parsed.format !== "dmremap-suspects" || !Array.isArray(blocks)) {
    throw new FormatSyntaxError(
      path,
      1,
      'not a suspects file (expected {"format": "dmremap-suspects", "blocks": [...]})',
    );
  }
  for (const b of blocks) {
    if (!Number.isSafeInteger(b) || (b as number) < 0)
      throw new FormatSyntaxError(path, 1, `block ${String(b)} is not a block number`);
  }
  return [...new Set(blocks)].sort((a, b) => a - b);
}

/** Replace the suspects of the set, atomically (temporary file, fsync, rename). */
export async function writeSuspects(
  path: string,
  setUuid: string,
  blockSize: number,
  blocks: readonly number[],
): Promise<void> {
  const content: SuspectsFile = {
    format: "dmremap-suspects",
    version: 1,
    setUuid,
    blockSize,
    blocks: [...new Set(blocks)].sort((a, b) => a - b),
  };
  await mkdir(join(path, ".."), { recursive: true });
  const temp = `${path}.tmp`;
  const handle = await open(temp, "w");
  try {
    await handle.writeFile(JSON.stringify(content) + "\n");
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, path);
  // The rename is durable only once the directory is.
  const dir = await open(join(path, ".."), "r");
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/** Add blocks to the suspects; returns the new list. */
export async function addSuspects(
  path: string,
  setUuid: string,
  blockSize: number,
  blocks: readonly number[],
): Promise<number[]> {
  const merged = [...new Set([...(await readSuspects(path)), ...blocks])].sort((a, b) => a - b);
  if (blocks.length > 0) await writeSuspects(path, setUuid, blockSize, merged);
  return merged;
}
