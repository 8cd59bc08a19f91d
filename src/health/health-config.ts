// Settings of the health services with their defaults; the daemon's config schema ([target.scan],
// [target.forecast]) fills them from TOML, tests and benchmarks build them directly.

/** How passes are scheduled: back to back, every `interval`, or only on demand. */
export type ScanMode = "continuous" | "periodic" | "manual";

/** Scanner settings. */
export interface ScanSettings {
  readonly mode: ScanMode;
  /** periodic: time from the end of one pass to the start of the next. */
  readonly intervalMs: number;
  /** Bandwidth cap in bytes per second; 0 = no cap. */
  readonly rateBytesPerSecond: number;
  /** Allowed foreground p99 latency increase over baseline (0.1 = +10 %). */
  readonly latencyBudget: number;
  /** Most concurrent scanner reads (1-4). */
  readonly queueDepth: number;
  /** Size of one scanner read. */
  readonly readBytes: number;
  /** Reads per sequential segment of the staggered sweep. */
  readonly segmentReads: number;
  /** Size of a region of the staggered sweep; 0 = one region (a plain sequential sweep). */
  readonly regionBytes: number;
  /** Radius scanned around every new error before the sweep continues. */
  readonly neighbourhoodBytes: number;
  /** Share of the scanner's bytes spent re-reading the surroundings of known errors (0 = never). */
  readonly revisitShare: number;
  /** Smallest distance re-read on each side of a known error (it widens with the errors' spread). */
  readonly revisitMinBytes: number;
  /** A read slower than this many times the scanner's own p99 is suspect ... */
  readonly suspectFactor: number;
  /** ... and slower than this (ms). */
  readonly suspectMinMs: number;
  /** First re-read of a suspect range after this long (doubles per slow re-read). */
  readonly suspectRecheckMs: number;
  readonly maxSuspects: number;
  /** Persist the cursor at least this often ... */
  readonly persistEveryMs: number;
  /** ... and after this many bytes read. */
  readonly persistEveryBytes: number;
}

const DAY_MS = 86_400_000;

/** Defaults: periodic monthly passes at full speed within a +10 % foreground p99 budget. */
export const DEFAULT_SCAN_SETTINGS: ScanSettings = {
  mode: "periodic",
  intervalMs: 30 * DAY_MS,
  rateBytesPerSecond: 0,
  latencyBudget: 0.1,
  queueDepth: 4,
  readBytes: 512 << 10,
  segmentReads: 1,
  regionBytes: 8 << 20,
  neighbourhoodBytes: 64 << 20,
  revisitShare: 0.125,
  revisitMinBytes: 1 << 20,
  suspectFactor: 8,
  suspectMinMs: 50,
  suspectRecheckMs: 10 * 60_000,
  maxSuspects: 1024,
  persistEveryMs: 5_000,
  persistEveryBytes: 256 << 20,
};

/** Forecast and risk-tier settings. */
export interface ForecastSettings {
  /** `replace` when the P50 spare-exhaustion ETA is below this. */
  readonly replaceEtaDays: number;
  /** `degrading` when the P50 ETA is below this. */
  readonly degradingEtaDays: number;
  /** `degrading` when the 7 d remap rate is this many times the 30 d rate (and significant). */
  readonly accelerationRatio: number;
  /** Significance level of the acceleration test. */
  readonly accelerationPValue: number;
  /** `replace` when free spare slots fall to this percentage. */
  readonly replaceFreePercent: number;
  /** Events kept in the history file (older ones are dropped, counts per kind are kept). */
  readonly historyLimit: number;
  /** How often the forecast is recomputed (and SMART polled). */
  readonly evaluateEveryMs: number;
  /** SMART polling: "auto" when main is a /dev path, or off. */
  readonly smart: "auto" | "off";
  readonly smartEveryMs: number;
}

/** Defaults of the forecast. */
export const DEFAULT_FORECAST_SETTINGS: ForecastSettings = {
  replaceEtaDays: 14,
  degradingEtaDays: 60,
  accelerationRatio: 2,
  accelerationPValue: 0.05,
  replaceFreePercent: 5,
  historyLimit: 10_000,
  evaluateEveryMs: 60_000,
  smart: "auto",
  smartEveryMs: 3_600_000,
};
