// Risk tiers from the forecast, the spare pool and SMART: healthy / watch / degrading / replace.
// Every rule that fires is reported in words; the tier is the worst of them. Rules in docs/HEALTH.md.
import type { ForecastSettings } from "./health-config.js";
import type { Forecast } from "./forecast-model.js";
import type { SmartVerdict } from "./smart.js";

/** Tiers, least to most urgent. */
export const RISK_TIERS = ["healthy", "watch", "degrading", "replace"] as const;
export type RiskTier = (typeof RISK_TIERS)[number];

/** One rule that fired. */
export interface RiskRule {
  readonly tier: RiskTier;
  readonly rule: string;
  /** Human sentence, e.g. "replace: P50 ETA 9.0 d < 14 d". */
  readonly text: string;
}

/** What the tier is judged from. */
export interface RiskInput {
  readonly now: number;
  readonly forecast: Forecast;
  readonly spare: { readonly totalBlocks: number; readonly freeBlocks: number };
  readonly pendingBlocks: number;
  /** First and last time a remap / pending mark / bad-block finding was recorded (null: never). */
  readonly firstEventAt: number | null;
  readonly eventsLast30d: number;
  readonly smart: SmartVerdict | null;
  readonly settings: ForecastSettings;
}

/** Verdict: the tier, the rule that decided it, and every rule that fired. */
export interface RiskVerdict {
  readonly tier: RiskTier;
  readonly reason: string;
  readonly rules: readonly RiskRule[];
}

const DAY_MS = 86_400_000;

function days(ms: number): string {
  const d = ms / DAY_MS;
  return d >= 10 ? `${Math.round(d)} d` : `${d.toFixed(1)} d`;
}

/** Apply the rules. */
export function judgeRisk(input: RiskInput): RiskVerdict {
  const { forecast: f, spare, settings: s } = input;
  const rules: RiskRule[] = [];
  const fire = (tier: RiskTier, rule: string, text: string) =>
    rules.push({ tier, rule, text: `${tier}: ${text}` });

  const freePct = spare.totalBlocks > 0 ? (100 * spare.freeBlocks) / spare.totalBlocks : 100;
  if (spare.totalBlocks > 0 && freePct <= s.replaceFreePercent)
    fire(
      "replace",
      "spare-low",
      `${spare.freeBlocks} of ${spare.totalBlocks} spare slots free (<= ${s.replaceFreePercent} %)`,
    );
  const p50 = f.exhaustion?.p50;
  if (p50 !== undefined && p50 < s.replaceEtaDays * DAY_MS)
    fire("replace", "eta", `P50 spare-exhaustion ETA ${days(p50)} < ${s.replaceEtaDays} d`);
  for (const why of input.smart?.critical ?? []) fire("replace", "smart-critical", why);

  if (f.accelerating)
    fire(
      "degrading",
      "acceleration",
      `remap rate last 7 d is ${(f.rate7 / Math.max(f.rate30, 1e-9)).toFixed(1)}x the 30 d rate, p = ${f.accelerationP.toPrecision(2)} < ${s.accelerationPValue}`,
    );
  if (p50 !== undefined && p50 < s.degradingEtaDays * DAY_MS)
    fire("degrading", "eta", `P50 spare-exhaustion ETA ${days(p50)} < ${s.degradingEtaDays} d`);
  for (const why of input.smart?.degrading ?? []) fire("degrading", "smart-growth", why);

  if (input.eventsLast30d > 0 && input.firstEventAt !== null)
    fire(
      "watch",
      "recent-events",
      `${input.eventsLast30d} bad-block events in the last 30 d (first ${days(input.now - input.firstEventAt)} ago)`,
    );
  if (input.pendingBlocks > 0)
    fire("watch", "pending", `${input.pendingBlocks} pending blocks (unreadable until rewritten)`);
  for (const why of input.smart?.watch ?? []) fire("watch", "smart-change", why);

  const worst = rules.reduce<RiskTier>(
    (t, r) => (RISK_TIERS.indexOf(r.tier) > RISK_TIERS.indexOf(t) ? r.tier : t),
    "healthy",
  );
  const deciding = rules.find((r) => r.tier === worst);
  return {
    tier: worst,
    reason: deciding?.text ?? "healthy: no remap, pending block or SMART change in the last 30 d",
    rules,
  };
}
