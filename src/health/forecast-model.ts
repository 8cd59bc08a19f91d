// Spare-exhaustion forecast: remap arrivals as a gamma-Poisson (negative-binomial) process fitted
// over recent windows (7 d, 30 d). Over-dispersed daily counts (bursts) widen the interval instead
// of moving the median; a significant 7 d / 30 d acceleration switches to the 7 d window and
// extrapolates the growth. Quantiles are exact (beta-prime law), no sampling.

const DAY_MS = 86_400_000;
/** Weak gamma prior on the daily rate (shape, rate in days). */
const PRIOR_SHAPE = 0.5;
const PRIOR_DAYS = 0.5;

/** Inputs of a forecast. */
export interface ForecastInput {
  /** Times (ms) of remaps that consumed a spare slot, ascending. */
  readonly arrivals: readonly number[];
  readonly now: number;
  /** When observation started (history start); windows never reach before it. */
  readonly observedSince: number;
  /** Spare slots still free. */
  readonly freeSlots: number;
  /** Free slots at which the spare alert fires (days until then are also forecast). */
  readonly alertSlots: number;
  readonly accelerationRatio: number;
  readonly accelerationPValue: number;
}

/** Quantiles of a waiting time in ms from now; null when no remap was seen (nothing to extrapolate). */
export interface EtaQuantiles {
  readonly p10: number;
  readonly p50: number;
  readonly p90: number;
}

/** What the model concluded. */
export interface Forecast {
  readonly exhaustion: EtaQuantiles | null;
  readonly alert: EtaQuantiles | null;
  /** Remaps per day in the last 7 and 30 days (of observed time). */
  readonly rate7: number;
  readonly rate30: number;
  readonly count7: number;
  readonly count30: number;
  /** One-sided p-value that the last 7 d are no busier than the 30 d average. */
  readonly accelerationP: number;
  readonly accelerating: boolean;
  /** Window the rate posterior was fitted on. */
  readonly window: "7d" | "30d";
  /** Variance / mean of daily counts (>= 1). */
  readonly dispersion: number;
  /** Exponential growth of the rate per day assumed when accelerating (0 otherwise). */
  readonly growthPerDay: number;
}

/** Fit and forecast. */
export function forecastExhaustion(input: ForecastInput): Forecast {
  const { arrivals, now } = input;
  const span30 = Math.max(0, Math.min(30 * DAY_MS, now - input.observedSince));
  const span7 = Math.min(7 * DAY_MS, span30);
  const count30 = countSince(arrivals, now - span30, now);
  const count7 = countSince(arrivals, now - span7, now);
  const days30 = span30 / DAY_MS;
  const days7 = span7 / DAY_MS;
  const rate30 = days30 > 0 ? count30 / days30 : 0;
  const rate7 = days7 > 0 ? count7 / days7 : 0;
  const accelerationP = span30 > span7 ? binomialUpperTail(count30, count7, span7 / span30) : 1;
  // The trend is modelled as soon as it is significant; the `accelerating` flag (a degrading rule)
  // also needs the configured ratio.
  const trend = count7 >= 3 && rate7 > rate30 && accelerationP < input.accelerationPValue;
  const accelerating = trend && rate7 >= input.accelerationRatio * rate30;
  const window = trend ? "7d" : "30d";
  const [n, days] = trend ? [count7, days7] : [count30, days30];
  const dispersion = dailyDispersion(arrivals, now - (trend ? span7 : span30), now);
  const base = { rate7, rate30, count7, count30, accelerationP, accelerating, window, dispersion } as const;
  if (n === 0 || days <= 0) return { ...base, exhaustion: null, alert: null, growthPerDay: 0 };
  // Gamma posterior of the daily rate; dispersion D scales both parameters (same mean, wider).
  const shape = PRIOR_SHAPE + n / dispersion;
  const rateDays = PRIOR_DAYS + days / dispersion;
  const g = growthEstimate(count7, days7, count30 - count7, days30 - days7);
  // Growth uncertainty widens the interval: P10 assumes the rate grows faster (g + se), P90 that
  // it does not grow (or decays, when g < 0: after a burst); P50 takes g only beyond two se.
  const growthMid = Math.abs(g.value) > 2 * g.se ? g.value : 0;
  const ageDays = (trend ? days7 : days30) / 2;
  const waits = (events: number): EtaQuantiles => {
    if (events <= 0) return { p10: 0, p50: 0, p90: 0 };
    // Constant rate: T = D * b * X / (1 - X), X ~ Beta(events / D, shape) (a beta-prime law).
    const k = events / dispersion;
    const q = (p: number, growth: number) => {
      const x = betaQuantile(p, k, shape);
      const constant = x >= 1 ? Infinity : (dispersion * rateDays * x) / (1 - x);
      return withGrowth(constant, growth, ageDays) * DAY_MS;
    };
    return { p10: q(0.1, g.value + g.se), p50: q(0.5, growthMid), p90: q(0.9, Math.min(0, g.value)) };
  };
  return {
    ...base,
    growthPerDay: growthMid,
    exhaustion: waits(input.freeSlots),
    alert: waits(input.freeSlots - input.alertSlots),
  };
}

/**
 * Days until `constantDays` worth of arrivals (at the window's rate, measured `ageDays` ago) when
 * the rate changes by e^(growth t): ln(1 + g T e^(-g age)) / g; Infinity when a decay never gets there.
 */
function withGrowth(constantDays: number, growth: number, ageDays: number): number {
  if (!Number.isFinite(constantDays)) return Infinity;
  if (Math.abs(growth) < 1e-9) return constantDays;
  const inner = growth * constantDays * Math.exp(-growth * ageDays);
  return inner <= -1 ? Infinity : Math.log1p(inner) / growth;
}

/** Exponential growth per day of the rate (last 7 d against the 23 d before) and its standard error. */
function growthEstimate(recent: number, recentDays: number, older: number, olderDays: number) {
  if (olderDays <= 0 || recentDays <= 0) return { value: 0, se: 0 };
  const r1 = (recent + 0.5) / recentDays;
  const r0 = (older + 0.5) / olderDays;
  const gap = (recentDays + olderDays) / 2;
  return {
    value: Math.log(r1 / r0) / gap,
    se: Math.sqrt(1 / (recent + 0.5) + 1 / (older + 0.5)) / gap,
  };
}

function countSince(sorted: readonly number[], from: number, to: number): number {
  let n = 0;
  for (let i = sorted.length - 1; i >= 0 && sorted[i]! > from; i--) if (sorted[i]! <= to) n++;
  return n;
}

/** Variance / mean of per-day counts over [from, to), at least 1. */
function dailyDispersion(sorted: readonly number[], from: number, to: number): number {
  const days = Math.floor((to - from) / DAY_MS);
  if (days < 3) return 1;
  const counts = new Float64Array(days);
  for (const t of sorted) {
    const d = Math.floor((to - t) / DAY_MS);
    if (t <= to && d >= 0 && d < days) counts[d]! += 1;
  }
  let sum = 0;
  for (const c of counts) sum += c;
  const mean = sum / days;
  if (mean <= 0 || sum < 5) return 1;
  let sq = 0;
  for (const c of counts) sq += (c - mean) ** 2;
  return Math.max(1, sq / (days - 1) / mean);
}

/** P(X >= k) for X ~ Binomial(n, p). */
export function binomialUpperTail(n: number, k: number, p: number): number {
  if (k <= 0) return 1;
  if (k > n) return 0;
  let logTerm = n * Math.log1p(-p); // P(X = 0)
  let below = 0;
  for (let i = 0; i < k; i++) {
    below += Math.exp(logTerm);
    logTerm += Math.log((n - i) / (i + 1)) + Math.log(p) - Math.log1p(-p);
  }
  return Math.max(0, Math.min(1, 1 - below));
}

/** Regularized incomplete beta I_x(a, b) (continued fraction, Numerical Recipes' betacf). */
export function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const lnFront = lnGamma(a + b) - lnGamma(a) - lnGamma(b) + a * Math.log(x) + b * Math.log1p(-x);
  if (x < (a + 1) / (a + b + 2)) return (Math.exp(lnFront) * betaFraction(x, a, b)) / a;
  return 1 - (Math.exp(lnFront) * betaFraction(1 - x, b, a)) / b;
}

function betaFraction(x: number, a: number, b: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 300; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a - 1 + m2) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + 1 + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-12) break;
  }
  return h;
}

/** The p-quantile of Beta(a, b), by bisection (monotone, robust for any shapes). */
export function betaQuantile(p: number, a: number, b: number): number {
  let lo = 0;
  let hi = 1;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (incompleteBeta(mid, a, b) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** ln Gamma(x) (Lanczos). */
function lnGamma(x: number): number {
  const g = [
    676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905,
    -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - lnGamma(1 - x);
  x -= 1;
  let a = 0.99999999999980993;
  const t = x + 7.5;
  for (let i = 0; i < 8; i++) a += g[i]! / (x + i + 1);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}
