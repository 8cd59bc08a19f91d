// What the dashboard shows of one target: the overview row and the target page's details, rendered
// from the target's status(), its scanner's and forecast's status and the forecast's event history.
import type { HealthEvent } from "../health/event-history.js";
import type { ForecastStatus } from "../health/forecast.js";
import type { ScanStatus } from "../health/scanner.js";
import type { AlertAcks } from "./alert-acks.js";
import type {
  DashboardEvent,
  HistorySeries,
  OverviewRow,
  SpareGauge,
  TargetDetail,
  TierName,
} from "./dashboard-types.js";
import type { LiveSampler } from "./live-sampler.js";

/** The status fields the dashboard reads (the daemon's TargetStatus has them all). */
export interface DashboardStatus {
  readonly state: string;
  readonly reason?: string;
  readonly sizeBytes: number;
  readonly blockSize: number;
  readonly remappedBlocks: number;
  readonly pendingBlocks: number;
  readonly lostSectors: number;
  readonly spare: {
    readonly totalBlocks: number;
    readonly usedBlocks: number;
    readonly freeBlocks: number;
    readonly quarantinedBlocks?: number;
    readonly alertPercent?: number;
    readonly perSpare?: readonly {
      readonly index: number;
      readonly uuid: string;
      readonly totalBlocks: number;
      readonly usedBlocks: number;
      readonly freeBlocks: number;
      readonly quarantinedBlocks?: number;
    }[];
  };
  readonly errors: Readonly<Record<string, number>>;
  readonly missingSpares?: readonly { readonly index: number; readonly uuid: string }[];
  readonly metadata: {
    readonly generation: number;
    readonly copies: readonly {
      readonly device: string;
      readonly slot: string;
      readonly state: string;
      readonly generation?: number;
    }[];
  };
}

/** One target as the dashboard sees it. */
export interface DashboardTarget {
  readonly name: string;
  status(): DashboardStatus;
  readonly scanner?: { scanStatus(): ScanStatus };
  readonly forecast?: { forecastStatus(): ForecastStatus; events(): readonly HealthEvent[] };
  readonly faultsEnabled: boolean;
  /** Latency and scanner-rate samples of this target. */
  readonly sampler: LiveSampler;
}

/** Recent events shown on the target page. */
export const RECENT_EVENTS = 50;
/** Points of the history charts at most (older events are folded into the first point). */
export const HISTORY_POINTS = 100_000;

/** An event in words. */
export function describeEvent(e: HealthEvent): DashboardEvent {
  const block = e.block !== undefined ? `block ${e.block}` : "";
  const detail = typeof e.detail === "string" ? e.detail : undefined;
  const text = ((): string => {
    switch (e.kind) {
      case "remap":
        return `${block} remapped to a spare slot${detail ? ` (${detail})` : ""}`;
      case "unremap":
        return `${block} moved back to main`;
      case "pending":
        return `${block} pending: main cannot read it, the next write remaps it`;
      case "pending-cleared":
        return `${block} no longer pending`;
      case "read-errors":
        return `${e.n ?? 0} read error(s) on main`;
      case "write-errors":
        return `${e.n ?? 0} write error(s) on main`;
      case "scan-finding":
        return `scanner: ${block} ${detail === "slow" ? "is slow (suspect)" : `is bad${detail ? ` (${detail})` : ""}`}`;
      case "smart":
        return "SMART verdict changed";
      case "smart-baseline":
        return "first SMART sample (baseline)";
    }
  })();
  return { t: e.t, kind: e.kind, ...(e.block !== undefined ? { block: e.block } : {}), text };
}

function percent(part: number, whole: number): number {
  return whole > 0 ? Math.round((part / whole) * 1000) / 10 : 0;
}

/** The overview row of one target. */
export function overviewRow(target: DashboardTarget, acks: AlertAcks): OverviewRow {
  const s = target.status();
  const f = target.forecast?.forecastStatus();
  const scan = target.scanner?.scanStatus();
  const last = target.forecast?.events().at(-1);
  const tier = (f?.tier ?? null) as TierName | null;
  const alert = s.state !== "healthy" || tier === "degrading" || tier === "replace";
  const alertKey = `${s.state}|${tier ?? ""}`;
  return {
    name: target.name,
    state: s.state,
    reason: s.reason ?? "",
    tier,
    tierReason: f?.reason ?? "",
    sizeBytes: s.sizeBytes,
    blockSize: s.blockSize,
    remappedBlocks: s.remappedBlocks,
    pendingBlocks: s.pendingBlocks,
    lostSectors: s.lostSectors,
    spareTotalBlocks: s.spare.totalBlocks,
    spareUsedBlocks: s.spare.usedBlocks,
    spareUsedPercent: percent(s.spare.usedBlocks, s.spare.totalBlocks),
    etaSeconds: f?.spareExhaustionEtaSeconds ?? null,
    scan: scan
      ? {
          state: scan.state,
          pass: scan.pass,
          percent: percent(scan.scannedBlocks, scan.totalBlocks),
          bytesPerSecond: scan.bytesPerSecond,
          errorsFound: scan.errorsFound,
        }
      : null,
    lastEvent: last ? describeEvent(last) : null,
    alert,
    acknowledged: alert && acks.isAcknowledged(target.name, alertKey),
  };
}

/** The key of a target's current alert condition (acknowledging stores it). */
export function alertKeyOf(target: DashboardTarget): string {
  return `${target.status().state}|${target.forecast?.forecastStatus().tier ?? ""}`;
}

/** Cumulative remaps and errors over time from the event history. */
export function historySeries(events: readonly HealthEvent[]): HistorySeries {
  const t: number[] = [];
  const remaps: number[] = [];
  const errors: number[] = [];
  let r = 0;
  let e = 0;
  const skip = Math.max(0, events.length - HISTORY_POINTS);
  events.forEach((ev, i) => {
    if (ev.kind === "remap") r++;
    else if (ev.kind === "read-errors" || ev.kind === "write-errors") e += ev.n ?? 0;
    else if (ev.kind === "scan-finding" && ev.detail !== "slow") e++;
    else return;
    if (i < skip) return;
    t.push(ev.t / 1000);
    remaps.push(r);
    errors.push(e);
  });
  return { t, remaps, errors };
}

function spareGauges(s: DashboardStatus): SpareGauge[] {
  const missing = new Set((s.missingSpares ?? []).map((m) => m.index));
  const per = s.spare.perSpare ?? [
    {
      index: 0,
      uuid: "",
      totalBlocks: s.spare.totalBlocks,
      usedBlocks: s.spare.usedBlocks,
      freeBlocks: s.spare.freeBlocks,
    },
  ];
  const gauges: SpareGauge[] = per.map((p) => ({
    index: p.index,
    uuid: p.uuid,
    totalBlocks: p.totalBlocks,
    usedBlocks: p.usedBlocks,
    freeBlocks: p.freeBlocks,
    quarantinedBlocks: p.quarantinedBlocks ?? null,
    missing: missing.has(p.index),
  }));
  for (const m of s.missingSpares ?? []) {
    if (!gauges.some((g) => g.index === m.index))
      gauges.push({
        index: m.index,
        uuid: m.uuid,
        totalBlocks: 0,
        usedBlocks: 0,
        freeBlocks: 0,
        quarantinedBlocks: null,
        missing: true,
      });
  }
  return gauges.sort((a, b) => a.index - b.index);
}

/** Everything the target page shows except the block map. */
export function targetDetail(target: DashboardTarget, acks: AlertAcks): TargetDetail {
  const s = target.status();
  const row = overviewRow(target, acks);
  const scan = target.scanner?.scanStatus();
  const f = target.forecast?.forecastStatus();
  const events = target.forecast?.events() ?? [];
  return {
    row,
    spares: spareGauges(s),
    quarantinedBlocks: s.spare.quarantinedBlocks ?? null,
    spareAlertPercent: s.spare.alertPercent ?? 0,
    metadata: {
      generation: s.metadata.generation,
      copies: s.metadata.copies.map((c) => ({
        device: c.device,
        slot: c.slot,
        state: c.state,
        generation: c.generation ?? null,
      })),
    },
    errors: s.errors,
    scan:
      scan && row.scan
        ? {
            ...row.scan,
            scannedBlocks: scan.scannedBlocks,
            totalBlocks: scan.totalBlocks,
            etaSeconds: scan.etaSeconds,
          }
        : null,
    forecast: f
      ? {
          tier: f.tier,
          reason: f.reason,
          rules: f.rules.map((r) => r.text),
          etaSeconds: f.spareExhaustionEtaSeconds,
          remapRatePerDay: f.remapRatePerDay.last7d,
          evaluatedAt: f.evaluatedAt,
        }
      : null,
    events: events.slice(-RECENT_EVENTS).reverse().map(describeEvent),
    history: historySeries(events),
    live: target.sampler.series(),
    faultsEnabled: target.faultsEnabled,
  };
}
