// The scanner's side record: cursor, pass, suspects and pass history as a small JSON file, replaced
// atomically (write temp, fsync, rename, fsync dir), so a crash leaves the old or the new record.
import { mkdir, open, readFile, rename } from "node:fs/promises";
import { dirname } from "node:path";
import { HealthStateFileError } from "./errors.js";
import type { HotZoneRecord } from "./hot-zones.js";
import type { SweepGeometry } from "./sweep-order.js";

/** One finished (or stopped) pass. */
export interface PassRecord {
  readonly pass: number;
  readonly startedAt: number;
  readonly endedAt: number;
  readonly bytesRead: number;
  readonly errorsFound: number;
  readonly result: "complete" | "stopped";
}

/** A block range whose read was far slower than the device's own distribution. */
export interface SuspectRecord {
  readonly firstBlock: number;
  readonly countBlocks: number;
  readonly firstSeenAt: number;
  /** Slowest read seen, ms. */
  readonly slowestMs: number;
  /** Slow reads so far (the first included). */
  readonly slowReads: number;
  /** When to read it again; null once it is judged weak (slow every time). */
  readonly recheckAt: number | null;
}

/** Scanner state: "scanning" and "paused" have a pass in progress. */
export type ScanState = "idle" | "scanning" | "paused";

/** Everything persisted. */
export interface ScanRecord {
  readonly version: 1;
  readonly uuid: string;
  readonly state: ScanState;
  readonly pass: number;
  /** Next sweep position to read (all below it are done). */
  readonly cursor: number;
  readonly geometry: SweepGeometry;
  readonly passStartedAt: number | null;
  readonly passScannedBlocks: number;
  readonly passBytesRead: number;
  readonly passErrors: number;
  /** When the last pass ended (schedule reference); the record's creation time before the first. */
  readonly lastPassEndedAt: number;
  readonly suspects: readonly SuspectRecord[];
  readonly history: readonly PassRecord[];
  /** Known errors whose surroundings are re-read (absent in records of older versions). */
  readonly hotZones?: HotZoneRecord;
}

/** Read the record; undefined when the file does not exist. */
export async function loadScanRecord(path: string): Promise<ScanRecord | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new HealthStateFileError(path, `cannot read: ${(err as Error).message}`, { cause: err });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new HealthStateFileError(path, "is not JSON (delete it to start scanning afresh)", { cause: err });
  }
  const r = parsed as Partial<ScanRecord>;
  if (r.version !== 1 || typeof r.cursor !== "number" || typeof r.pass !== "number" || !r.geometry) {
    throw new HealthStateFileError(path, "is not a dmremap scan record (version 1)");
  }
  return r as ScanRecord;
}

/** Replace the record atomically. */
export async function saveScanRecord(path: string, record: ScanRecord): Promise<void> {
  await writeFileAtomic(path, JSON.stringify(record) + "\n");
}

/** Write `text` to `path` via a temporary file, fsync and rename. */
export async function writeFileAtomic(path: string, text: string): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const tmp = `${path}.tmp`;
  const fh = await open(tmp, "w", 0o644);
  try {
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  const dh = await open(dir, "r");
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}
