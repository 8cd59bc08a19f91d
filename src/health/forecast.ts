// The forecast of one target (a Service): records every bad-block event and SMART sample in a
// bounded history, forecasts spare exhaustion (P10/P50/P90) and judges the risk tier. See
// docs/HEALTH.md for the model and the rules.
import type { Service, ServiceStatus } from "../core/service.js";
import type { RemapEvents } from "../remap/remap-events.js";
import type { Clock } from "./clock.js";
import { EventHistory, type HealthEvent, type HealthEventKind } from "./event-history.js";
import type { ForecastSettings } from "./health-config.js";
import { silentLogger, type HealthFinding, type HealthLogger } from "./health-logger.js";
import { forecastExhaustion, type EtaQuantiles, type Forecast as Model } from "./forecast-model.js";
import { judgeRisk, type RiskRule, type RiskTier } from "./risk.js";
import { judgeSmart, parseSmartctl, type SmartRunner, type SmartSample, type SmartVerdict } from "./smart.js";

const DAY_MS = 86_400_000;

/** What the forecast reads of a target. */
export interface ForecastSource {
  status(): {
    readonly pendingBlocks: number;
    readonly spare: {
      readonly totalBlocks: number;
      readonly freeBlocks: number;
      readonly alertPercent: number;
    };
    readonly errorCounts: { readonly read: number; readonly write: number };
  };
  subscribe(listener: RemapEvents): () => void;
}

/** Everything the forecast is built from. */
export interface ForecastOptions {
  readonly target: string;
  readonly source: ForecastSource;
  readonly settings: ForecastSettings;
  readonly historyPath: string;
  readonly clock: Clock;
  readonly log?: HealthLogger;
  /** Local disk under main to poll with smartctl (none: no SMART). */
  readonly smartDevice?: string;
  readonly smartRunner?: SmartRunner;
}

/** Waiting times in seconds; null = no forecast (no remap seen) or beyond any horizon. */
export interface EtaSeconds {
  readonly p10: number | null;
  readonly p50: number | null;
  readonly p90: number | null;
}

/** Live forecast (API, CLI, metrics). */
export interface ForecastStatus {
  readonly tier: RiskTier;
  readonly reason: string;
  readonly rules: readonly RiskRule[];
  readonly spareExhaustionEtaSeconds: EtaSeconds | null;
  readonly alertEtaSeconds: EtaSeconds | null;
  /** P50 days until the spare alert threshold is reached. */
  readonly daysUntilAlert: number | null;
  readonly remapRatePerDay: { readonly last7d: number; readonly last30d: number };
  readonly accelerationP: number;
  readonly window: Model["window"];
  readonly dispersion: number;
  readonly growthPerDay: number;
  readonly observedSince: number;
  readonly events: {
    readonly recorded: number;
    readonly last30d: number;
    readonly byKind: Record<string, number>;
  };
  readonly smart: {
    readonly device: string;
    readonly lastSample: SmartSample | null;
    readonly verdict: SmartVerdict | null;
    readonly error: string | null;
  } | null;
  readonly evaluatedAt: number;
}

const BAD_BLOCK_KINDS: ReadonlySet<HealthEventKind> = new Set(["remap", "pending", "scan-finding"]);

function seconds(q: EtaQuantiles | null): EtaSeconds | null {
  if (!q) return null;
  const s = (ms: number) => (Number.isFinite(ms) ? Math.round(ms / 1000) : null);
  return { p10: s(q.p10), p50: s(q.p50), p90: s(q.p90) };
}

/** Forecast service of one target. */
export class Forecast implements Service {
  readonly name: string;
  private readonly history: EventHistory;
  private readonly log: HealthLogger;
  private serviceState: ServiceStatus["state"] = "stopped";
  private unsubscribe: (() => void) | undefined;
  private stopping = new AbortController();
  private loop: Promise<void> | undefined;
  private lastErrors = { read: 0, write: 0 };
  private current: ForecastStatus | undefined;
  private smartSample: SmartSample | null = null;
  private smartError: string | null = null;
  private smartVerdict: SmartVerdict | null = null;
  private nextSmartAt = 0;

  constructor(private readonly options: ForecastOptions) {
    this.name = `forecast:${options.target}`;
    this.log = options.log ?? silentLogger;
    this.history = new EventHistory(
      options.historyPath,
      options.settings.historyLimit,
      options.clock.now(),
      this.log,
    );
  }

  async start(): Promise<void> {
    this.serviceState = "starting";
    await this.history.load();
    const counts = this.options.source.status().errorCounts;
    this.lastErrors = { read: counts.read, write: counts.write };
    const at = () => this.options.clock.now();
    this.unsubscribe = this.options.source.subscribe({
      onRemap: (e) => this.history.record({ t: at(), kind: "remap", block: e.block, detail: e.reason }),
      onUnremap: (e) => this.history.record({ t: at(), kind: "unremap", block: e.block }),
      onPending: (e) => this.history.record({ t: at(), kind: "pending", block: e.block }),
      onPendingCleared: (e) => this.history.record({ t: at(), kind: "pending-cleared", block: e.block }),
    });
    await this.evaluate();
    this.stopping = new AbortController();
    this.loop = this.run();
    this.serviceState = "running";
  }

  async stop(signal?: AbortSignal): Promise<void> {
    if (this.serviceState === "stopped") return;
    this.serviceState = "stopping";
    this.stopping.abort();
    this.unsubscribe?.();
    const giveUp = new Promise<void>((resolve) => signal?.addEventListener("abort", () => resolve()));
    await Promise.race([this.loop, giveUp]);
    await Promise.race([this.history.flushed(), giveUp]);
    this.serviceState = "stopped";
  }

  status(): ServiceStatus {
    return { state: this.serviceState, details: { ...this.forecastStatus() } };
  }

  /** A finding of the scanner: slow ranges (bad blocks it found arrive as pending / remap events). */
  recordFinding(finding: HealthFinding): void {
    if (finding.source !== "scan" || finding.kind === "pending" || finding.kind === "remapped") return;
    this.history.record({ t: finding.at, kind: "scan-finding", block: finding.block, detail: finding.kind });
  }

  /** The forecast now (from the history so far; counters and SMART as of the last evaluation). */
  forecastStatus(): ForecastStatus {
    return this.compute();
  }

  /** Poll counters and SMART, recompute the forecast and the tier (logs tier changes). */
  async evaluate(): Promise<ForecastStatus> {
    const now = this.options.clock.now();
    const counts = this.options.source.status().errorCounts;
    for (const kind of ["read", "write"] as const) {
      const delta = counts[kind] - this.lastErrors[kind];
      if (delta > 0) this.history.record({ t: now, kind: `${kind}-errors`, n: delta });
    }
    this.lastErrors = { read: counts.read, write: counts.write };
    await this.pollSmart(now);
    const before = this.current?.tier;
    this.current = this.compute();
    if (before !== undefined && before !== this.current.tier) {
      const log =
        this.current.tier === "healthy" || this.current.tier === "watch" ? this.log.info : this.log.warn;
      log.call(this.log, "risk tier changed", {
        from: before,
        to: this.current.tier,
        reason: this.current.reason,
      });
    }
    return this.current;
  }

  /** Events of the history (offline tools read the same file). */
  events(): readonly HealthEvent[] {
    return this.history.all();
  }

  private async run(): Promise<void> {
    const { clock, settings } = this.options;
    const stop = this.stopping.signal;
    while (!stop.aborted) {
      await clock.sleep(settings.evaluateEveryMs, stop);
      if (stop.aborted) break;
      try {
        await this.evaluate();
      } catch (err) {
        this.log.error("forecast evaluation failed", { error: String(err) });
      }
    }
  }

  private async pollSmart(now: number): Promise<void> {
    const { smartDevice, smartRunner, settings } = this.options;
    if (!smartDevice || !smartRunner || settings.smart === "off" || now < this.nextSmartAt) return;
    this.nextSmartAt = now + settings.smartEveryMs;
    try {
      const { stdout, code } = await smartRunner(smartDevice);
      const sample = parseSmartctl(stdout, smartDevice, now, code);
      const key = sample.serial ?? sample.device;
      const baselineEvent = [...this.history.all()]
        .reverse()
        .find((e) => e.kind === "smart-baseline" && (e.detail as SmartSample).serial === sample.serial);
      const baseline = (baselineEvent?.detail as SmartSample | undefined) ?? sample;
      if (!baselineEvent) this.history.record({ t: now, kind: "smart-baseline", detail: sample });
      const verdict = judgeSmart(sample, baseline);
      if (JSON.stringify(verdict) !== JSON.stringify(this.smartVerdict))
        this.history.record({ t: now, kind: "smart", detail: { device: key, verdict } });
      this.smartSample = sample;
      this.smartVerdict = verdict;
      this.smartError = null;
    } catch (err) {
      if (this.smartError === null)
        this.log.warn("SMART poll failed", { device: smartDevice, error: String(err) });
      this.smartError = err instanceof Error ? err.message : String(err);
    }
  }

  private compute(): ForecastStatus {
    const { settings, clock, source } = this.options;
    const now = clock.now();
    const status = source.status();
    const events = this.history.all();
    // Remaps an administrator asked for are not degradation.
    const arrivals = events.filter((e) => e.kind === "remap" && e.detail !== "manual").map((e) => e.t);
    const alertSlots = Math.ceil((status.spare.totalBlocks * status.spare.alertPercent) / 100);
    const f = forecastExhaustion({
      arrivals,
      now,
      observedSince: this.history.since,
      freeSlots: status.spare.freeBlocks,
      alertSlots,
      accelerationRatio: settings.accelerationRatio,
      accelerationPValue: settings.accelerationPValue,
    });
    const badBlock = events.filter((e) => BAD_BLOCK_KINDS.has(e.kind));
    const last30 = badBlock.filter((e) => e.t > now - 30 * DAY_MS);
    const verdict = judgeRisk({
      now,
      forecast: f,
      spare: status.spare,
      pendingBlocks: status.pendingBlocks,
      firstEventAt: badBlock[0]?.t ?? null,
      eventsLast30d: last30.length,
      smart: this.smartVerdict,
      settings,
    });
    const byKind: Record<string, number> = {};
    for (const e of events) byKind[e.kind] = (byKind[e.kind] ?? 0) + 1;
    const alert = seconds(f.alert);
    return {
      tier: verdict.tier,
      reason: verdict.reason,
      rules: verdict.rules,
      spareExhaustionEtaSeconds: seconds(f.exhaustion),
      alertEtaSeconds: alert,
      daysUntilAlert: alert?.p50 != null ? alert.p50 / 86_400 : null,
      remapRatePerDay: { last7d: f.rate7, last30d: f.rate30 },
      accelerationP: f.accelerationP,
      window: f.window,
      dispersion: f.dispersion,
      growthPerDay: f.growthPerDay,
      observedSince: this.history.since,
      events: { recorded: events.length, last30d: last30.length, byKind },
      smart: this.options.smartDevice
        ? {
            device: this.options.smartDevice,
            lastSample: this.smartSample,
            verdict: this.smartVerdict,
            error: this.smartError,
          }
        : null,
      evaluatedAt: now,
    };
  }
}
