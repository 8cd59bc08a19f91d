// What a scanner is built from (the daemon's scanner service and the tests fill it).
import type { Clock } from "./clock.js";
import type { ScanSettings } from "./health-config.js";
import type { HealthFinding, HealthLogger } from "./health-logger.js";
import type { ImportedSuspects } from "./imported-suspects.js";
import type { ScanSource } from "./scan-source.js";

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
  /** Imported suspect blocks, read at the start of every pass. */
  readonly importedSuspects?: ImportedSuspects;
}
