// The background scanner of one target (a Service): reads every main block that is not remapped
// through the user read path, so a latent error becomes pending exactly as a client read would make
// it; imported suspects and the neighbourhood of every new error first, re-reads of known-error
// zones, then a staggered sweep (scan-jobs.ts); paced by foreground latency and a bandwidth cap;
// resumable from a side record (scan-record-keeper.ts). See docs/HEALTH.md.
import { performance } from "node:perf_hooks";
import type { RequestTimes } from "../core/request-times.js";
import type { Service, ServiceStatus } from "../core/service.js";
import { ScanStateError } from "./errors.js";
import { silentLogger, type HealthLogger } from "./health-logger.js";
import { HotZones } from "./hot-zones.js";
import { ImportedSuspectQueue, type ImportedSuspects } from "./imported-suspects.js";
import type { ScannerOptions } from "./scanner-options.js";
import { Neighbourhoods } from "./neighbourhoods.js";
import { RangeReader } from "./range-reader.js";
import { Pacer } from "./pacer.js";
import { RateMeter } from "./rate-meter.js";
import { ScanJobs, type Job } from "./scan-jobs.js";
import { ScanRecordKeeper } from "./scan-record-keeper.js";
import type { PassRecord, ScanState } from "./scan-state.js";
import type { ScanStatus } from "./scan-status.js";
import { SuspectList } from "./suspect-list.js";
import { sweepGeometry, SweepOrder } from "./sweep-order.js";

export type { ImportedSuspects, ScannerOptions, ScanStatus };

/** Background scanner of one target. */
export class Scanner implements Service {
  readonly name: string;
  private readonly order: SweepOrder;
  private readonly pacer: Pacer;
  private readonly meter: RateMeter;
  private readonly reader: RangeReader;
  private readonly suspects: SuspectList;
  private readonly neighbourhoods: Neighbourhoods;
  private readonly zones: HotZones;
  private readonly jobs: ScanJobs;
  private readonly keeper: ScanRecordKeeper;
  private readonly log: HealthLogger;
  private serviceState: ServiceStatus["state"] = "stopped";
  private loop: Promise<void> | undefined;
  private stopping = new AbortController();
  private wakeup = new AbortController();
  private unsubscribe: (() => void) | undefined;
  private readonly buffers: Uint8Array[] = [];
  private totals = { bytesRead: 0, errorsFound: 0 };
  private quietWaiters: (() => void)[] = [];
  private waiting = false;
  private passWaiters: ((pass: PassRecord) => void)[] = [];
  private readonly imported: ImportedSuspectQueue;

  constructor(private readonly options: ScannerOptions) {
    const { source, settings, clock } = options;
    this.name = `scanner:${options.target}`;
    this.log = options.log ?? silentLogger;
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
      latencyNow: options.latencyNow ?? (() => performance.now()),
      account: (bytes) => this.account(bytes),
    });
    this.neighbourhoods = new Neighbourhoods(
      source.blockCount,
      source.blockSize,
      settings.neighbourhoodBytes,
    );
    const minPadBlocks = Math.max(1, Math.floor(settings.revisitMinBytes / source.blockSize));
    this.zones = new HotZones({
      blockCount: source.blockCount,
      minPadBlocks,
      maxPadBlocks: Math.max(minPadBlocks, Math.floor(settings.neighbourhoodBytes / source.blockSize)),
      share: settings.revisitShare,
    });
    this.jobs = new ScanJobs(this.order, this.neighbourhoods, this.suspects, this.zones, (blocks) => {
      this.keeper.rec.passScannedBlocks += blocks;
    });
    this.imported = new ImportedSuspectQueue(
      options.importedSuspects,
      this.jobs,
      source.blockCount,
      this.log,
    );
    this.keeper = new ScanRecordKeeper({
      path: options.statePath,
      uuid: options.uuid,
      geometry: this.order.geometry,
      blockCount: source.blockCount,
      persistEveryMs: settings.persistEveryMs,
      persistEveryBytes: settings.persistEveryBytes,
      clock,
      log: this.log,
    });
  }

  private get rec() {
    return this.keeper.rec;
  }

  /** A batch of completed requests; its reads and writes feed the latency controller. */
  observeForegroundTimes(times: RequestTimes): void {
    this.pacer.observeForegroundTimes(times);
  }

  async start(): Promise<void> {
    this.serviceState = "starting";
    const { loaded } = await this.keeper.load({
      cursor: () => this.jobs.persistedCursor(),
      suspects: () => this.suspects.list(),
      zones: () => this.zones.record(),
      blockAt: (position) => this.jobs.blockAt(position),
    });
    if (loaded) {
      this.suspects.load(loaded.suspects);
      this.zones.load(loaded.hotZones);
    }
    this.jobs.restart(this.rec.cursor);
    this.unsubscribe = this.options.source.subscribe({
      onPending: (e) => this.onError(e.block, "pending"),
      onRemap: (e) => {
        if (e.reason === "read-error" || e.reason === "write-error") this.onError(e.block, "remapped");
      },
    });
    if (this.rec.state === "scanning") {
      this.imported.due = true;
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
    await Promise.race([this.keeper.persist(), giveUp]);
    this.serviceState = "stopped";
  }

  status(): ServiceStatus {
    return { state: this.serviceState, details: { ...this.scanStatus() } };
  }

  /** Start a pass now (on demand). */
  async startPass(): Promise<ScanStatus> {
    if (this.rec.state !== "idle") throw new ScanStateError(this.options.target, "start", this.rec.state);
    this.beginPass("on demand");
    await this.keeper.persist();
    return this.scanStatus();
  }

  /** Pause the running pass (persisted: it stays paused across restarts). */
  async pause(): Promise<ScanStatus> {
    if (this.rec.state !== "scanning") throw new ScanStateError(this.options.target, "pause", this.rec.state);
    this.rec.state = "paused";
    this.wake();
    await this.keeper.persist();
    this.log.info("scan paused", { pass: this.rec.pass, cursorBlock: this.cursorBlock() });
    return this.scanStatus();
  }

  /** Resume a paused pass. */
  async resume(): Promise<ScanStatus> {
    if (this.rec.state !== "paused") throw new ScanStateError(this.options.target, "resume", this.rec.state);
    this.rec.state = "scanning";
    this.wake();
    await this.keeper.persist();
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
      hotZones: {
        knownErrors: this.zones.size,
        roundBlocks: this.zones.roundBlocks(),
        padBlocks: this.zones.padBlocks,
      },
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
    return this.jobs.blockAt(this.jobs.persistedCursor());
  }

  private nextPassAt(): number | null {
    const { mode, intervalMs } = this.options.settings;
    if (this.rec.state !== "idle" || mode === "manual") return null;
    return mode === "continuous" ? this.rec.lastPassEndedAt : this.rec.lastPassEndedAt + intervalMs;
  }

  private beginPass(why: string): void {
    const r = this.keeper.beginPass();
    this.jobs.restart();
    this.imported.due = true;
    this.log.info("scan pass started", { pass: r.pass, why, totalBlocks: this.options.source.blockCount });
    this.wake();
  }

  private async finishPass(result: "complete" | "stopped"): Promise<void> {
    const entry = this.keeper.finishPass(result);
    this.jobs.restart();
    this.neighbourhoods.newPass();
    await this.keeper.persist();
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
    const inflight = this.jobs.inflight;
    while (!stop.aborted) {
      const state = this.rec.state;
      if (state !== "scanning") {
        await this.waitForWork(state, stop);
        continue;
      }
      if (this.imported.due) await this.imported.load(this.rec.pass);
      if (inflight.size >= this.pacer.queueDepth) {
        await Promise.race(inflight.keys());
        continue;
      }
      const job = this.jobs.next();
      if (!job) {
        if (inflight.size > 0) await Promise.race(inflight.keys());
        else await this.finishPass("complete");
        continue;
      }
      await this.pacer.admit(job.countBlocks * this.options.source.blockSize, stop);
      if (stop.aborted) {
        this.jobs.giveBack(job);
        break;
      }
      const run = this.runJob(job).finally(() => inflight.delete(run));
      inflight.set(run, job);
      await this.keeper.maybePersist();
    }
    await this.settle();
  }

  /** Idle or paused: persist, start a scheduled pass when due, else sleep until woken or due. */
  private async waitForWork(state: ScanState, stop: AbortSignal): Promise<void> {
    const { clock } = this.options;
    await this.settle();
    await this.keeper.persist();
    const due = this.nextPassAt();
    if (this.rec.state !== state) return;
    this.waiting = true;
    for (const w of this.quietWaiters.splice(0)) w();
    if (state === "idle" && due !== null && clock.now() >= due) {
      this.beginPass(`${this.options.settings.mode} schedule`);
      return;
    }
    const both = AbortSignal.any([this.wakeup.signal, stop]);
    if (due === null && !both.aborted)
      await new Promise<void>((resolve) => both.addEventListener("abort", () => resolve()));
    else if (due !== null) await clock.sleep(due - clock.now(), both);
    this.waiting = false;
  }

  private async settle(): Promise<void> {
    while (this.jobs.inflight.size > 0) await Promise.allSettled(this.jobs.inflight.keys());
  }

  private async runJob(job: Job): Promise<void> {
    const buffer =
      this.buffers.pop() ?? new Uint8Array(this.order.geometry.readBlocks * this.options.source.blockSize);
    try {
      const slowestMs = await this.reader.read(job, buffer, job.kind !== "recheck");
      if (job.kind === "sweep") this.rec.passScannedBlocks += job.countBlocks;
      // Re-reads of known-error zones are paid for by the other reads: at most `revisitShare` of all.
      if (job.kind !== "revisit") this.zones.earn(job.countBlocks);
      if (job.kind === "neighbourhood") this.neighbourhoods.done(job);
      if (job.kind === "recheck") this.reader.rechecked(job, slowestMs);
      if (job.kind === "imported") await this.imported.done(job);
    } finally {
      this.buffers.push(buffer);
    }
  }

  private account(bytes: number): void {
    this.rec.passBytesRead += bytes;
    this.totals.bytesRead += bytes;
    this.keeper.read(bytes);
    this.meter.add(bytes);
  }

  /** A block became pending or was remapped after a read/write error (scanner's or a client's). */
  private onError(block: number, kind: "pending" | "remapped"): void {
    const bySelf = this.jobs.reading(block);
    const at = this.options.clock.now();
    if (bySelf) {
      this.rec.passErrors += 1;
      this.totals.errorsFound += 1;
      this.log.warn("scan found a bad block", { block, became: kind, pass: this.rec.pass });
    }
    this.options.onFinding?.({ at, block, kind, source: bySelf ? "scan" : "io" });
    this.zones.add(block);
    if (this.neighbourhoods.add(block)) this.wake();
  }
}
