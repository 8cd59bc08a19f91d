// The logging the health services need (structurally the daemon's Logger), and a silent default.

/** Structured log sink. */
export interface HealthLogger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** Discards everything. */
export const silentLogger: HealthLogger = { info() {}, warn() {}, error() {} };

/** A finding of a health service, as the forecast records it. */
export interface HealthFinding {
  readonly at: number;
  readonly block: number;
  /** pending / remapped: the read path marked it; suspect / weak: slow reads. */
  readonly kind: "pending" | "remapped" | "suspect" | "weak";
  /** Found by the scanner ("scan") or by client I/O ("io"). */
  readonly source: "scan" | "io";
}
