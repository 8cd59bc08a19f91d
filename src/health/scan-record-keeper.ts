// The scanner's persistence: loads (or starts) the side record, writes it serialized at least every
// `persist_every` and every `persistEveryBytes` read, and logs each tenth of a pass once it is durable
// (what a restart would resume from).
import type { Clock } from "./clock.js";
import type { HealthLogger } from "./health-logger.js";
import type { HotZoneRecord } from "./hot-zones.js";
import {
  loadScanRecord,
  saveScanRecord,
  type PassRecord,
  type ScanRecord,
  type SuspectRecord,
} from "./scan-state.js";
import type { SweepGeometry } from "./sweep-order.js";

/** The record, writable by its owner. */
export type MutableScanRecord = { -readonly [K in keyof ScanRecord]: ScanRecord[K] };

/** What the keeper reads from the scanner when it writes. */
export interface RecordSources {
  /** Lowest unfinished sweep position. */
  cursor(): number;
  suspects(): SuspectRecord[];
  zones(): HotZoneRecord;
  /** First block of the read at sweep position `position`. */
  blockAt(position: number): number;
}

/** Keep at most this many finished passes in the record. */
const HISTORY_LIMIT = 16;

/** Options of the keeper. */
export interface ScanRecordKeeperOptions {
  readonly path: string;
  readonly uuid: string;
  readonly geometry: SweepGeometry;
  readonly blockCount: number;
  readonly persistEveryMs: number;
  readonly persistEveryBytes: number;
  readonly clock: Clock;
  readonly log: HealthLogger;
}

/** Owns the side record of one scanner. */
export class ScanRecordKeeper {
  rec!: MutableScanRecord;
  private bytesSincePersist = 0;
  private lastPersistAt = 0;
  private chain: Promise<void> = Promise.resolve();
  private loggedProgress = 0;
  private sources!: RecordSources;

  constructor(private readonly o: ScanRecordKeeperOptions) {}

  /** Load the record (a record of another set, or of another geometry, is not resumed). */
  async load(sources: RecordSources): Promise<{ resumed: boolean; loaded?: ScanRecord }> {
    this.sources = sources;
    const { clock, geometry, uuid, path, log } = this.o;
    const loaded = await loadScanRecord(path);
    this.lastPersistAt = clock.now();
    if (loaded && loaded.uuid === uuid) {
      const same = JSON.stringify(loaded.geometry) === JSON.stringify(geometry);
      this.rec = { ...loaded, ...(same ? {} : { cursor: 0, passScannedBlocks: 0, geometry }) };
      if (!same) log.warn("scan geometry changed: the pass restarts at its beginning", { geometry });
      return { resumed: true, loaded };
    }
    if (loaded) log.warn("scan record belongs to another set: starting afresh", { path });
    this.rec = {
      version: 1,
      uuid,
      state: "idle",
      pass: 0,
      cursor: 0,
      geometry,
      passStartedAt: null,
      passScannedBlocks: 0,
      passBytesRead: 0,
      passErrors: 0,
      lastPassEndedAt: clock.now(),
      suspects: [],
      history: [],
    };
    await this.persist();
    return { resumed: false };
  }

  /** A new pass begins (its counters start at zero). */
  beginPass(): MutableScanRecord {
    const r = this.rec;
    r.state = "scanning";
    r.pass += 1;
    r.cursor = 0;
    r.passStartedAt = this.o.clock.now();
    r.passScannedBlocks = 0;
    r.passBytesRead = 0;
    r.passErrors = 0;
    return r;
  }

  /** The pass ends: it joins the history (the last HISTORY_LIMIT are kept); returns its entry. */
  finishPass(result: PassRecord["result"]): PassRecord {
    const r = this.rec;
    const now = this.o.clock.now();
    const entry: PassRecord = {
      pass: r.pass,
      startedAt: r.passStartedAt ?? now,
      endedAt: now,
      bytesRead: r.passBytesRead,
      errorsFound: r.passErrors,
      result,
    };
    r.history = [...r.history, entry].slice(-HISTORY_LIMIT);
    r.state = "idle";
    r.cursor = 0;
    r.passStartedAt = null;
    r.lastPassEndedAt = now;
    return entry;
  }

  /** `bytes` more were read (counts towards the next byte-driven write). */
  read(bytes: number): void {
    this.bytesSincePersist += bytes;
  }

  /** Write when an interval (time or bytes) is over. */
  async maybePersist(): Promise<void> {
    const now = this.o.clock.now();
    if (now - this.lastPersistAt < this.o.persistEveryMs && this.bytesSincePersist < this.o.persistEveryBytes)
      return;
    await this.persist();
  }

  /** Write the record now (serialized with earlier writes). */
  persist(): Promise<void> {
    const s = this.sources;
    this.rec.cursor = s.cursor();
    this.rec.suspects = s.suspects();
    this.rec.hotZones = s.zones();
    this.lastPersistAt = this.o.clock.now();
    this.bytesSincePersist = 0;
    const snapshot: ScanRecord = { ...this.rec };
    const run = this.chain.then(async () => {
      await saveScanRecord(this.o.path, snapshot);
      this.logProgress(snapshot);
    });
    this.chain = run.catch((err: unknown) =>
      this.o.log.error("scan record could not be written", { path: this.o.path, error: String(err) }),
    );
    return this.chain;
  }

  private logProgress(r: ScanRecord): void {
    if (r.state !== "scanning") return;
    const total = this.o.blockCount;
    const tenth = total > 0 ? Math.floor((10 * Math.min(total, r.passScannedBlocks)) / total) : 10;
    const key = r.pass * 100 + tenth;
    if (tenth === 0 || key <= this.loggedProgress) return;
    this.loggedProgress = key;
    this.o.log.info("scan progress", {
      pass: r.pass,
      percent: tenth * 10,
      scannedBlocks: r.passScannedBlocks,
      cursorBlock: this.sources.blockAt(r.cursor),
      errorsFound: r.passErrors,
    });
  }
}
