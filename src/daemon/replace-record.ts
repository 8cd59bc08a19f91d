// The side record of a main replacement: <state dir>/<set uuid>.replace.json names the new device
// and holds the copy's resume point. Written atomically (temporary file, fsync, rename, fsync of the
// directory) after each flush of the new device; removed when the replacement is done.
import { mkdir, open, readFile, rename, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { DeviceIdentity } from "../block/device-identity.js";
import { FormatSyntaxError } from "../formats/errors.js";
import { REPLACE_PHASES, type ReplaceCheckpoint } from "../spares/replace-main.js";

/** The content of a replace record. */
export interface ReplaceRecord {
  readonly format: "dmremap-replace";
  readonly version: 1;
  readonly setUuid: string;
  readonly target: string;
  /** Spec of the new main as given to replace-main. */
  readonly newSpec: string;
  /** The new main's identity (re-armed only when the device found has it). */
  readonly newIdentity: DeviceIdentity;
  /** Spec of the old main (describe()) when the replacement started. */
  readonly oldSpec: string;
  /** Where to write the ddrescue mapfile of the copy, if asked. */
  readonly mapfile?: string;
  /** Bytes per sequential copy request, when not the default. */
  readonly chunkBytes?: number;
  readonly checkpoint: ReplaceCheckpoint;
}

/** Path of the replace record of set `setUuid` in `dir`. */
export function replaceRecordPath(dir: string, setUuid: string): string {
  if (!/^[0-9a-fA-F-]+$/.test(setUuid)) throw new RangeError(`set uuid "${setUuid}" is not a uuid`);
  return join(dir, `${setUuid}.replace.json`);
}

/** The record at `path`, or undefined when there is none. */
export async function readReplaceRecord(path: string): Promise<ReplaceRecord | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  let parsed: Partial<ReplaceRecord>;
  try {
    parsed = JSON.parse(text) as Partial<ReplaceRecord>;
  } catch (err) {
    throw new FormatSyntaxError(path, 1, `not JSON (${(err as Error).message})`);
  }
  const c = parsed.checkpoint;
  if (
    parsed.format !== "dmremap-replace" ||
    typeof parsed.newSpec !== "string" ||
    !c ||
    !REPLACE_PHASES.includes(c.phase) ||
    !Number.isSafeInteger(c.cursorBlock) ||
    !(
      c.rewrittenBlocks === undefined ||
      (Array.isArray(c.rewrittenBlocks) && c.rewrittenBlocks.every(Number.isSafeInteger))
    )
  )
    throw new FormatSyntaxError(
      path,
      1,
      'not a replace record (expected {"format": "dmremap-replace", ...})',
    );
  return parsed as ReplaceRecord;
}

let tempCount = 0;

/** Replace the record at `path` atomically. */
export async function writeReplaceRecord(path: string, record: ReplaceRecord): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temp = `${path}.${process.pid}.${++tempCount}.tmp`;
  const handle = await open(temp, "w");
  try {
    await handle.writeFile(JSON.stringify(record) + "\n");
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, path);
  const dir = await open(dirname(path), "r");
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/** Remove the record (the replacement is over). */
export async function removeReplaceRecord(path: string): Promise<void> {
  await rm(path, { force: true });
}
