// The [target.scan] and [target.forecast] config tables (background scanner, spare-exhaustion
// forecast; docs/HEALTH.md) and their conversion to the health services' settings.
import {
  DEFAULT_FORECAST_SETTINGS,
  DEFAULT_SCAN_SETTINGS,
  type ForecastSettings,
  type ScanMode,
  type ScanSettings,
} from "../health/health-config.js";
import type { TableSchema } from "./config-schema.js";

/** [target.scan] as parsed. */
export interface ScanConfig {
  readonly enabled: boolean;
  readonly mode: ScanMode;
  readonly intervalMs: number;
  readonly rateMiBps: number;
  readonly latencyBudgetPercent: number;
  readonly queueDepth: number;
  readonly neighbourhoodMiB: number;
  readonly persistEveryMs: number;
}

/** [target.forecast] as parsed. */
export interface ForecastConfig {
  readonly enabled: boolean;
  readonly replaceEtaDays: number;
  readonly degradingEtaDays: number;
  readonly accelerationRatio: number;
  readonly replaceFreePercent: number;
  readonly evaluateEveryMs: number;
  readonly smart: "auto" | "off";
  readonly smartIntervalMs: number;
  readonly historyLimit: number;
}

/** [target.scan]. */
export const SCAN_TABLE: TableSchema = {
  key: "scan",
  help: "Background scanner: reads every block that is not remapped, so latent errors become pending before a client needs the data (docs/HEALTH.md).",
  // prettier-ignore
  fields: [
    { key: "enabled", type: "boolean", default: true, help: "Run the scanner service (passes still start only by schedule or `dmremap scan start`)." },
    { key: "mode", type: "enum", default: DEFAULT_SCAN_SETTINGS.mode, values: ["continuous", "periodic", "manual"], help: "continuous: passes back to back; periodic: a pass every `interval`; manual: only on demand." },
    { key: "interval", type: "duration", default: "720h", min: 60_000, max: 8_760 * 3_600_000, help: "periodic: time from the end of one pass to the start of the next (the first is due one interval after the scan record is created)." },
    { key: "rate", prop: "rateMiBps", type: "number", default: 0, min: 0, max: 100_000, help: "Bandwidth cap in MiB/s (like md's sync_speed_max); 0 = no cap." },
    { key: "latency_budget", prop: "latencyBudgetPercent", type: "number", default: 10, min: 1, max: 1000, help: "Foreground p99 latency may rise this many percent over its baseline before the scanner backs off." },
    { key: "queue_depth", type: "integer", default: DEFAULT_SCAN_SETTINGS.queueDepth, min: 1, max: 4, help: "Most concurrent scanner reads (the controller lowers it under foreground load)." },
    { key: "neighbourhood_mib", prop: "neighbourhoodMiB", type: "integer", default: 64, min: 0, max: 65_536, help: "After any new error, scan this many MiB on each side of it before the sweep continues." },
    { key: "persist_every", type: "duration", default: "5s", min: 100, max: 3_600_000, help: "Persist the scan cursor at least this often (and every 256 MiB)." },
  ],
};

/** [target.forecast]. */
export const FORECAST_TABLE: TableSchema = {
  key: "forecast",
  help: "Spare-exhaustion forecast, risk tier and SMART ingestion (docs/HEALTH.md).",
  // prettier-ignore
  fields: [
    { key: "enabled", type: "boolean", default: true, help: "Run the forecast service (event history, ETA, risk tier)." },
    { key: "replace_eta_days", type: "number", default: DEFAULT_FORECAST_SETTINGS.replaceEtaDays, min: 0, max: 3650, help: "Tier `replace` when the P50 spare-exhaustion ETA is below this many days." },
    { key: "degrading_eta_days", type: "number", default: DEFAULT_FORECAST_SETTINGS.degradingEtaDays, min: 0, max: 3650, help: "Tier `degrading` when the P50 ETA is below this many days." },
    { key: "acceleration_ratio", type: "number", default: DEFAULT_FORECAST_SETTINGS.accelerationRatio, min: 1, max: 100, help: "Tier `degrading` when the 7 d remap rate is this many times the 30 d rate (and significant, p < 0.05)." },
    { key: "replace_free_percent", type: "number", default: DEFAULT_FORECAST_SETTINGS.replaceFreePercent, min: 0, max: 100, help: "Tier `replace` when free spare slots fall to this percentage." },
    { key: "evaluate_every", type: "duration", default: "1m", min: 1000, max: 86_400_000, help: "How often the forecast and tier are recomputed." },
    { key: "smart", type: "enum", default: "auto", values: ["auto", "off"], help: "auto: poll `smartctl -j -a` when main is a /dev path (needs smartmontools); off: never." },
    { key: "smart_interval", type: "duration", default: "1h", min: 60_000, max: 86_400_000 * 7, help: "Time between SMART polls." },
    { key: "history_limit", type: "integer", default: DEFAULT_FORECAST_SETTINGS.historyLimit, min: 100, max: 10_000_000, help: "Events kept in the history file (older ones are dropped and counted)." },
  ],
};

/** Scanner settings from [target.scan]. */
export function scanSettings(config: ScanConfig): ScanSettings {
  return {
    ...DEFAULT_SCAN_SETTINGS,
    mode: config.mode,
    intervalMs: config.intervalMs,
    rateBytesPerSecond: Math.round(config.rateMiBps * 1024 * 1024),
    latencyBudget: config.latencyBudgetPercent / 100,
    queueDepth: config.queueDepth,
    neighbourhoodBytes: config.neighbourhoodMiB * 1024 * 1024,
    persistEveryMs: config.persistEveryMs,
  };
}

/** Forecast settings from [target.forecast]. */
export function forecastSettings(config: ForecastConfig): ForecastSettings {
  return {
    ...DEFAULT_FORECAST_SETTINGS,
    replaceEtaDays: config.replaceEtaDays,
    degradingEtaDays: config.degradingEtaDays,
    accelerationRatio: config.accelerationRatio,
    replaceFreePercent: config.replaceFreePercent,
    evaluateEveryMs: config.evaluateEveryMs,
    smart: config.smart,
    smartEveryMs: config.smartIntervalMs,
    historyLimit: config.historyLimit,
  };
}
