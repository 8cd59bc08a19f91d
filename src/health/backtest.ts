// Forecast backtest on synthetic remap traces with known truth: steady, accelerating,
// burst-then-quiet and none (healthy). Used by the suite (backtest.test.ts) and docs/HEALTH.md.
import { Prng } from "../block/prng.js";
import { DEFAULT_FORECAST_SETTINGS, type ForecastSettings } from "./health-config.js";
import { forecastExhaustion } from "./forecast-model.js";
import { judgeRisk } from "./risk.js";

const DAY_MS = 86_400_000;
const HORIZON_DAYS = 730;

export const TRACE_KINDS = ["steady", "accelerating", "burst-then-quiet", "none"] as const;
export type TraceKind = (typeof TRACE_KINDS)[number];

/** A generated trace: remap times and the spare pool they draw from. */
export interface Trace {
  readonly kind: TraceKind;
  readonly slots: number;
  /** Remap times in ms from the start of observation (at most `slots`). */
  readonly arrivals: readonly number[];
  /** When the last slot was taken; null if not within the horizon. */
  readonly exhaustedAt: number | null;
}

function exp(prng: Prng): number {
  return -Math.log(1 - prng.next());
}

/** Generate one trace of `kind` with `prng`. */
export function makeTrace(kind: TraceKind, prng: Prng): Trace {
  const out: number[] = [];
  let slots: number;
  const push = (tDays: number) => out.push(Math.round(tDays * DAY_MS));
  if (kind === "steady") {
    slots = 150;
    const rate = 1 + 3 * prng.next();
    for (let t = exp(prng) / rate; t < HORIZON_DAYS && out.length < slots; t += exp(prng) / rate) push(t);
  } else if (kind === "accelerating") {
    slots = 200;
    const r0 = 0.2 + 0.3 * prng.next();
    const tau = 15 + 15 * prng.next();
    // Time rescaling: cumulative intensity L(t) = r0 tau (e^(t/tau) - 1).
    let big = 0;
    for (;;) {
      big += exp(prng);
      const t = tau * Math.log(1 + big / (r0 * tau));
      if (t >= HORIZON_DAYS || out.length >= slots) break;
      push(t);
    }
  } else if (kind === "burst-then-quiet") {
    slots = 120;
    const low = 0.3;
    const burstAt = 30 + 20 * prng.next();
    for (let t = exp(prng) / low; t < burstAt; t += exp(prng) / low) push(t);
    for (let i = 0; i < 40; i++) push(burstAt + prng.next());
    out.sort((a, b) => a - b);
    for (let t = burstAt + 1 + exp(prng) / low; t < HORIZON_DAYS && out.length < slots; t += exp(prng) / low)
      push(t);
  } else {
    slots = 100;
    const rare = 0.004;
    for (let t = exp(prng) / rare; t < HORIZON_DAYS && out.length < slots; t += exp(prng) / rare) push(t);
  }
  const arrivals = out.slice(0, slots);
  return { kind, slots, arrivals, exhaustedAt: arrivals.length >= slots ? arrivals.at(-1)! : null };
}

/** Results per trace kind. */
export interface BacktestRow {
  readonly kind: TraceKind;
  readonly traces: number;
  /** Forecasts made (weekly, once >= 10 remaps were seen, before exhaustion). */
  readonly forecasts: number;
  /** Share of those whose P10-P90 interval held the true exhaustion time. */
  readonly coverage: number;
  /** Median |P50 - truth| / truth. */
  readonly medianP50Error: number;
  /** Share of forecasts with P50 within +-25 % of the truth. */
  readonly p50Within25: number;
  /** Median lead time (h) of the first `replace` before exhaustion (traces that exhausted). */
  readonly medianReplaceLeadHours: number | null;
  /** Traces in which `replace` ever fired. */
  readonly replaceFired: number;
}

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Run the backtest: `perKind` traces of each kind, seeded. */
export function runBacktest(perKind = 20, seed = 7, settings: ForecastSettings = DEFAULT_FORECAST_SETTINGS) {
  const rows: BacktestRow[] = [];
  for (const kind of TRACE_KINDS) {
    const prng = new Prng(seed + TRACE_KINDS.indexOf(kind) * 1000);
    let forecasts = 0;
    let covered = 0;
    const errors: number[] = [];
    const leads: number[] = [];
    let replaceFired = 0;
    for (let i = 0; i < perKind; i++) {
      const trace = makeTrace(kind, prng);
      const end = trace.exhaustedAt ?? HORIZON_DAYS * DAY_MS;
      let firstReplace: number | null = null;
      let seen = 0;
      for (let now = DAY_MS; now < end; now += DAY_MS) {
        while (seen < trace.arrivals.length && trace.arrivals[seen]! <= now) seen++;
        const free = trace.slots - seen;
        const f = forecastExhaustion({
          arrivals: trace.arrivals.slice(0, seen),
          now,
          observedSince: 0,
          freeSlots: free,
          alertSlots: Math.ceil(trace.slots * 0.1),
          accelerationRatio: settings.accelerationRatio,
          accelerationPValue: settings.accelerationPValue,
        });
        if (firstReplace === null) {
          const verdict = judgeRisk({
            now,
            forecast: f,
            spare: { totalBlocks: trace.slots, freeBlocks: free },
            pendingBlocks: 0,
            firstEventAt: seen > 0 ? trace.arrivals[0]! : null,
            eventsLast30d: f.count30,
            smart: null,
            settings,
          });
          if (verdict.tier === "replace") firstReplace = now;
        }
        const weekly = Math.round(now / DAY_MS) % 7 === 0;
        if (weekly && seen >= 10 && trace.exhaustedAt !== null && f.exhaustion) {
          const truth = trace.exhaustedAt - now;
          forecasts++;
          if (f.exhaustion.p10 <= truth && truth <= f.exhaustion.p90) covered++;
          errors.push(Math.abs(f.exhaustion.p50 - truth) / truth);
        }
      }
      if (firstReplace !== null) replaceFired++;
      if (firstReplace !== null && trace.exhaustedAt !== null)
        leads.push((trace.exhaustedAt - firstReplace) / 3_600_000);
    }
    rows.push({
      kind,
      traces: perKind,
      forecasts,
      coverage: forecasts > 0 ? covered / forecasts : NaN,
      medianP50Error: median(errors) ?? NaN,
      p50Within25: errors.length > 0 ? errors.filter((e) => e <= 0.25).length / errors.length : NaN,
      medianReplaceLeadHours: median(leads),
      replaceFired,
    });
  }
  const withTruth = rows.filter((r) => r.forecasts > 0);
  const total = withTruth.reduce((n, r) => n + r.forecasts, 0);
  const overallCoverage = withTruth.reduce((n, r) => n + r.coverage * r.forecasts, 0) / total;
  return { rows, overallCoverage };
}

/** The table as text. */
export function backtestTable(result: ReturnType<typeof runBacktest>): string {
  const pct = (x: number) => (Number.isNaN(x) ? "-" : `${(100 * x).toFixed(0)} %`);
  const lines = [
    "kind               traces  forecasts  P10-P90 coverage  median |P50 err|  P50 within 25 %  replace fired  median replace lead",
  ];
  for (const r of result.rows) {
    lines.push(
      [
        r.kind.padEnd(18),
        String(r.traces).padStart(6),
        String(r.forecasts).padStart(10),
        pct(r.coverage).padStart(17),
        pct(r.medianP50Error).padStart(17),
        pct(r.p50Within25).padStart(16),
        String(r.replaceFired).padStart(14),
        (r.medianReplaceLeadHours === null ? "-" : `${r.medianReplaceLeadHours.toFixed(0)} h`).padStart(20),
      ].join(" "),
    );
  }
  lines.push(`overall P10-P90 coverage: ${pct(result.overallCoverage)}`);
  return lines.join("\n");
}
