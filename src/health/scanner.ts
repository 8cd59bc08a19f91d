// The background scanner of one target (a Service): reads every main block that is not remapped
// through the user read path, so a latent error becomes pending exactly as a client read would make
// it; neighbourhood first after any new error, then a staggered sweep; paced by foreground latency
// and a bandwidth cap; resumable from a side record. See docs/HEALTH.md.
import { performance } from "node:perf_hooks";
import type { Service, ServiceStatus } from "../core/service.js";
import type { Clock } from "./clock.js";
import { ScanStateError } from "./errors.js";
import { silentLogger, type HealthFinding, type HealthLogger } from "./health-logger.js";
import { Neighbourhoods } from "./neighbourhoods.js";
import { RangeReader } from "./range-reader.js";
import { Pacer } from "./pacer.js";
import { RateMeter } from "./rate-meter.js";
import type { ScanSource } from "./scan-source.js";
import {
  loadScanRecord,
  saveScanRecord,
  type PassRecord,
  type ScanRecord,
  type ScanState,
} from "./scan-state.js";
import { SuspectList } from "./suspect-list.js";
import { sweepGeometry, SweepOrder } from "./sweep-order.js";
import type { ScanSettings } from "./health-config.js";

/** Everything the scanner is built from. */
export interface ScannerOptions {
  readonly target: string;
  /** Set UUID: a record of another set is ignored. */
  readonly uuid: string;
  readonly source: ScanSource;
  readonly settings: ScanSettings;
  /** Side record path (docs/HEALTH.md says where the daemon puts it). */
  readonly statePath: string;
  readonly clock: Clock;
  readonly log?: HealthLogger;
  /** Every finding (scan or client I/O), e.g. for the forecast's event history. */
  readonly onFinding?: (finding: HealthFinding) => void;
  /** Monotonic milliseconds for read latencies (default performance.now; tests inject one). */
  readonly latencyNow?: () => number;
}

/** Live scan progress (API, CLI, metrics). */
export interface ScanStatus {
  readonly state: ScanState;
  readonly mode: ScanSettings["mode"];
  readonly pass: number;
  readonly cursorBlock: number;
  readonly scannedBlocks: number;
  readonly totalBlocks: number;
  readonly bytesRead: number;
  readonly errorsFound: number;
  readonly suspectBlocks: number;
  readonly weakBlocks: number;
  readonly bytesPerSecond: number;
  readonly etaSeconds: number | null;
  readonly neighbourhoodQueue: number;
  readonly passStartedAt: number | null;
  readonly nextPassAt: number | null;
  readonly totals: { readonly bytesRead: number; readonly errorsFound: number; readonly passes: number };
  readonly pacing: ReturnType<Pacer["status"]>;
  readonly lastPass: ScanRecord["history"][number] | null;
  readonly history: ScanRecord["history"];
  readonly suspects: ReturnType<SuspectList["list"]>;
}

interface Job {
  readonly kind: "sweep" | "neighbourhood" | "recheck";
  readonly firstBlock: number;
  readonly countBlocks: number;
  readonly position?: number;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Keep at most this many finished passes in the record. */
const HISTORY_LIMIT = 16;

/** Background scanner of one target. */
export class Scanner implements Service {
  readonly name: string;
  private rec!: Mutable<ScanRecord>;
  private order: SweepOrder;
  private readonly pacer: Pacer;
  private readonly meter: RateMeter;
  private readonly reader: RangeReader;
  private readonly suspects: SuspectList;
  private readonly log: HealthLogger;
  private serviceState: ServiceStatus["state"] = "stopped";
  private loop: Promise<void> | undefined;
  private stopping = new AbortController();
  private wakeup = new AbortController();
  private unsubscribe: (() => void) | undefined;
  /** Next sweep position not yet handed out (the persisted cursor may lag behind in-flight reads). */
  private nextPosition = 0;
  private readonly inflight = new Map<Promise<void>, Job>();
  private readonly neighbourhoods: Neighbourhoods;
  private readonly buffers: Uint8Array[] = [];
  private bytesSincePersist = 0;
  private lastPersistAt = 0;
  private persistChain: Promise<void> = Promise.resolve();
  private totals = { bytesRead: 0, errorsFound: 0 };
  private quietWaiters: (() => void)[] = [];
  private waiting = false;
  private loggedProgress = 0;
  private passWaiters: ((pass: PassRecord) => void)[] = [];
  private readonly latencyNow: () => number;

  constructor(private readonly options: ScannerOptions) {
    const { source, settings, clock } = options;
    this.name = `scanner:${options.target}`;
    this.log = options.log ?? silentLogger;
    this.latencyNow = options.latencyNow ?? (() => performance.now());
    this.order = new SweepOrder(
      sweepGeometry(
        source.blockCount,
        source.blockSize,
        settings.readBytes,
        settings.segmentReads,
        settings.regionBytes,
      ),
    );
    this.pacer = new Pacer({
      rateBytesPerSecond: settings.rateBytesPerSecond,
      latencyBudget: settings.latencyBudget,
      maxQueueDepth: settings.queueDepth,
      clock,
    });
    this.meter = new RateMeter(clock);
    this.suspects = new SuspectList(settings, clock);
    this.reader = new RangeReader({
      source,
      settings,
      suspects: this.suspects,
      clock,
      log: this.log,
      ...(options.onFinding ? { onFinding: options.onFinding } : {}),
      latencyNow: this.latencyNow,
      account: (bytes) => this.account(bytes),
    });
    this.neighbourhoods = new Neighbourhoods(
      source.blockCount,
      source.blockSize,
      settings.neighbourhoodBytes,
    );
  }

  /** One foreground (client) request completed in `ms` (feeds the latency controller). */
  observeForeground(ms: number): void {
    this.pacer.observeForeground(ms);
  }

  async start(): Promise<void> {
    this.serviceState = "starting";
    const { clock, source } = this.options;
    const loaded = await loadScanRecord(this.options.statePath);
    const geometry = this.order.geometry;
    const fresh: ScanRecord = {
      version: 1,
      uuid: this.options.uuid,
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
    if (loaded && loaded.uuid === this.options.uuid) {
      const same = JSON.stringify(loaded.geometry) === JSON.stringify(geometry);
      this.rec = { ...loaded, ...(same ? {} : { cursor: 0, passScannedBlocks: 0, geometry }) };
      if (!same) this.log.warn("scan geometry changed: the pass restarts at its beginning", { geometry });
      this.suspects.load(loaded.suspects);
    } else {
      if (loaded)
        this.log.warn("scan record belongs to another set: starting afresh", {
          path: this.options.statePath,
        });
      this.rec = { ...fresh };
      await this.persist();
    }
    this.nextPosition = this.rec.cursor;
    this.lastPersistAt = clock.now();
    this.unsubscribe = source.subscribe({
      onPending: (e) => this.onError(e.block, "pending"),
      onRemap: (e) => {
        if (e.reason === "read-error" || e.reason === "write-error") this.onError(e.block, "remapped");
      },
    });
    if (this.rec.state === "scanning") {
      this.log.info("scan resumes", {
        pass: this.rec.pass,
        cursorBlock: this.cursorBlock(),
        scannedBlocks: this.rec.passScannedBlocks,
      });
    }
    this.stopping = new AbortController();
    this.loop = this.run().catch((err: unknown) => {
      this.serviceState = "failed";
      this.log.error("scanner failed", { error: String(err) });
    });
    this.serviceState = "running";
  }

  async stop(signal?: AbortSignal): Promise<void> {
    if (this.serviceState === "stopped") return;
    this.serviceState = "stopping";
    this.stopping.abort();
    this.wake();
    this.unsubscribe?.();
    const giveUp = new Promise<void>((resolve) => signal?.addEventListener("abort", () => resolve()));
    await Promise.race([this.loop, giveUp]);
    await Promise.race([this.persist(), giveUp]);
    this.serviceState = "stopped";
  }

  status(): ServiceStatus {
    return { state: this.serviceState, details: { ...this.scanStatus() } };
  }

  /** Start a pass now (on demand). */
  async startPass(): Promise<ScanStatus> {
    if (this.rec.state !== "idle") throw new ScanStateError(this.options.target, "start", this.rec.state);
    this.beginPass("on demand");
    await this.persist();
    return this.scanStatus();
  }

  /** Pause the running pass (persisted: it stays paused across restarts). */
  async pause(): Promise<ScanStatus> {
    if (this.rec.state !== "scanning") throw new ScanStateError(this.options.target, "pause", this.rec.state);
    this.rec.state = "paused";
    this.wake();
    await this.persist();
    this.log.info("scan paused", { pass: this.rec.pass, cursorBlock: this.cursorBlock() });
    return this.scanStatus();
  }

  /** Resume a paused pass. */
  async resume(): Promise<ScanStatus> {
    if (this.rec.state !== "paused") throw new ScanStateError(this.options.target, "resume", this.rec.state);
    this.rec.state = "scanning";
    this.wake();
    await this.persist();
    this.log.info("scan resumed", { pass: this.rec.pass, cursorBlock: this.cursorBlock() });
    return this.scanStatus();
  }

  /** Abandon the current pass (kept in history as "stopped"). */
  async stopPass(): Promise<ScanStatus> {
    if (this.rec.state === "idle") throw new ScanStateError(this.options.target, "stop", this.rec.state);
    // Paused first, so the loop starts no new read while the ones in flight finish.
    this.rec.state = "paused";
    this.wake();
    await this.settle();
    await this.finishPass("stopped");
    return this.scanStatus();
  }

  scanStatus(): ScanStatus {
    const r = this.rec;
    const totalBlocks = this.options.source.blockCount;
    const scannedBlocks = Math.min(totalBlocks, r.passScannedBlocks);
    const rate = this.meter.bytesPerSecond();
    const remainingBytes = (totalBlocks - scannedBlocks) * this.options.source.blockSize;
    const suspects = this.suspects.list();
    return {
      state: r.state,
      mode: this.options.settings.mode,
      pass: r.pass,
      cursorBlock: this.cursorBlock(),
      scannedBlocks,
      totalBlocks,
      bytesRead: r.passBytesRead,
      errorsFound: r.passErrors,
      suspectBlocks: suspects.reduce((n, s) => n + s.countBlocks, 0),
      weakBlocks: suspects.filter((s) => s.recheckAt === null).reduce((n, s) => n + s.countBlocks, 0),
      bytesPerSecond: Math.round(rate),
      etaSeconds: r.state === "scanning" && rate > 0 ? Math.ceil(remainingBytes / rate) : null,
      neighbourhoodQueue: this.neighbourhoods.queued,
      passStartedAt: r.passStartedAt,
      nextPassAt: this.nextPassAt(),
      totals: { ...this.totals, passes: r.history.length },
      pacing: this.pacer.status(),
      lastPass: r.history.at(-1) ?? null,
      history: r.history,
      suspects,
    };
  }

  private cursorBlock(): number {
    const order = this.order;
    for (let p = this.persistedCursor(); p < order.positions; p++) {
      const read = order.readAt(p);
      if (read) return read.firstBlock;
    }
    return this.options.source.blockCount;
  }

  /** Lowest sweep position not yet finished. */
  private persistedCursor(): number {
    let cursor = this.nextPosition;
    for (const job of this.inflight.values()) {
      if (job.position !== undefined && job.position < cursor) cursor = job.position;
    }
    return cursor;
  }

  private nextPassAt(): number | null {
    const { mode, intervalMs } = this.options.settings;
    if (this.rec.state !== "idle" || mode === "manual") return null;
    return mode === "continuous" ? this.rec.lastPassEndedAt : this.rec.lastPassEndedAt + intervalMs;
  }

  private beginPass(why: string): void {
    const r = this.rec;
    r.state = "scanning";
    r.pass += 1;
    r.cursor = 0;
    r.passStartedAt = this.options.clock.now();
    r.passScannedBlocks = 0;
    r.passBytesRead = 0;
    r.passErrors = 0;
    this.nextPosition = 0;
    this.log.info("scan pass started", { pass: r.pass, why, totalBlocks: this.options.source.blockCount });
    this.wake();
  }

  private async finishPass(result: "complete" | "stopped"): Promise<void> {
    const r = this.rec;
    const now = this.options.clock.now();
    const entry = {
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
    this.nextPosition = 0;
    this.neighbourhoods.newPass();
    await this.persist();
    this.log.info(`scan pass ${result}`, { ...entry });
    for (const w of this.passWaiters.splice(0)) w(entry);
  }

  /** Resolves when the current (or next) pass ends. */
  passDone(): Promise<PassRecord> {
    return new Promise((resolve) => this.passWaiters.push(resolve));
  }

  /** Resolves once the scanner has no work left and waits (idle, paused, or between passes). */
  quiet(): Promise<void> {
    if (this.waiting) return Promise.resolve();
    return new Promise((resolve) => this.quietWaiters.push(resolve));
  }

  private wake(): void {
    this.waiting = false;
    this.wakeup.abort();
    this.wakeup = new AbortController();
  }

  private async run(): Promise<void> {
    const stop = this.stopping.signal;
    const { clock } = this.options;
    while (!stop.aborted) {
      const state = this.rec.state;
      if (state !== "scanning") {
        await this.settle();
        await this.persist();
        const due = this.nextPassAt();
        if (this.rec.state !== state) continue;
        this.waiting = true;
        for (const w of this.quietWaiters.splice(0)) w();
        if (state === "idle" && due !== null && clock.now() >= due) {
          this.beginPass(`${this.options.settings.mode} schedule`);
          continue;
        }
        const wake = this.wakeup.signal;
        const both = AbortSignal.any([wake, stop]);
        if (due === null && !both.aborted)
          await new Promise<void>((resolve) => both.addEventListener("abort", () => resolve()));
        else if (due !== null) await clock.sleep(due - clock.now(), both);
        this.waiting = false;
        continue;
      }
      if (this.inflight.size >= this.pacer.queueDepth) {
        await Promise.race(this.inflight.keys());
        continue;
      }
      const job = this.nextJob();
      if (!job) {
        if (this.inflight.size > 0) await Promise.race(this.inflight.keys());
        else if (state === "scanning") await this.finishPass("complete");
        continue;
      }
      await this.pacer.admit(job.countBlocks * this.options.source.blockSize, stop);
      if (stop.aborted) {
        if (job.position !== undefined && job.position < this.nextPosition) this.nextPosition = job.position;
        break;
      }
      const run = this.runJob(job).finally(() => this.inflight.delete(run));
      this.inflight.set(run, job);
      await this.maybePersist();
    }
    await this.settle();
  }

  private async settle(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled(this.inflight.keys());
  }

  /** Neighbourhoods first, then due rechecks of slow ranges, then the sweep. */
  private nextJob(): Job | undefined {
    const readBlocks = this.order.geometry.readBlocks;
    const near = this.neighbourhoods.next(readBlocks);
    if (near) return { kind: "neighbourhood", ...near };
    const due = this.suspects.takeDue();
    if (due) return { kind: "recheck", firstBlock: due.firstBlock, countBlocks: due.countBlocks };
    while (this.nextPosition < this.order.positions) {
      const position = this.nextPosition++;
      const read = this.order.readAt(position);
      if (!read) continue;
      if (this.neighbourhoods.covers(read)) {
        this.rec.passScannedBlocks += read.countBlocks;
        continue;
      }
      return { kind: "sweep", position, ...read };
    }
    return undefined;
  }

  private async runJob(job: Job): Promise<void> {
    const buffer =
      this.buffers.pop() ?? new Uint8Array(this.order.geometry.readBlocks * this.options.source.blockSize);
    try {
      const slowestMs = await this.reader.read(job, buffer, job.kind !== "recheck");
      if (job.kind === "sweep") this.rec.passScannedBlocks += job.countBlocks;
      if (job.kind === "neighbourhood") this.neighbourhoods.done(job);
      if (job.kind === "recheck") this.reader.rechecked(job, slowestMs);
    } finally {
      this.buffers.push(buffer);
    }
  }

  private account(bytes: number): void {
    this.rec.passBytesRead += bytes;
    this.totals.bytesRead += bytes;
    this.bytesSincePersist += bytes;
    this.meter.add(bytes);
  }

  /** A block became pending or was remapped after a read/write error (scanner's or a client's). */
  private onError(block: number, kind: "pending" | "remapped"): void {
    const bySelf = [...this.inflight.values()].some(
      (j) => block >= j.firstBlock && block < j.firstBlock + j.countBlocks,
    );
    const at = this.options.clock.now();
    if (bySelf) {
      this.rec.passErrors += 1;
      this.totals.errorsFound += 1;
      this.log.warn("scan found a bad block", { block, became: kind, pass: this.rec.pass });
    }
    this.options.onFinding?.({ at, block, kind, source: bySelf ? "scan" : "io" });
    this.queueNeighbourhood(block);
  }

  private queueNeighbourhood(block: number): void {
    if (this.neighbourhoods.add(block)) this.wake();
  }

  /** Log each tenth of a pass once it is durable (what a restart would resume from). */
  private logProgress(r: ScanRecord): void {
    if (r.state !== "scanning") return;
    const total = this.options.source.blockCount;
    const tenth = total > 0 ? Math.floor((10 * Math.min(total, r.passScannedBlocks)) / total) : 10;
    const key = r.pass * 100 + tenth;
    if (tenth === 0 || key <= this.loggedProgress) return;
    this.loggedProgress = key;
    const cursorBlock = this.order.readAt(r.cursor)?.firstBlock ?? total;
    this.log.info("scan progress", {
      pass: r.pass,
      percent: tenth * 10,
      scannedBlocks: r.passScannedBlocks,
      cursorBlock,
      errorsFound: r.passErrors,
    });
  }

  private async maybePersist(): Promise<void> {
    const { persistEveryMs, persistEveryBytes } = this.options.settings;
    const now = this.options.clock.now();
    if (now - this.lastPersistAt < persistEveryMs && this.bytesSincePersist < persistEveryBytes) return;
    await this.persist();
  }

  /** Write the record (serialized; the cursor is the lowest unfinished sweep position). */
  private persist(): Promise<void> {
    this.rec.cursor = this.persistedCursor();
    this.rec.suspects = this.suspects.list();
    this.lastPersistAt = this.options.clock.now();
    this.bytesSincePersist = 0;
    const snapshot: ScanRecord = { ...this.rec };
    const run = this.persistChain.then(async () => {
      await saveScanRecord(this.options.statePath, snapshot);
      this.logProgress(snapshot);
    });
    this.persistChain = run.catch((err: unknown) =>
      this.log.error("scan record could not be written", {
        path: this.options.statePath,
        error: String(err),
      }),
    );
    return this.persistChain;
  }
}
