// The scanner's status view (API, CLI, metrics, dashboard render it).
import type { PacerStatus } from "./pacer.js";
import type { ScanRecord, ScanState, SuspectRecord } from "./scan-state.js";
import type { ScanSettings } from "./health-config.js";

/** Live scan progress (API, CLI, metrics). */
export interface ScanStatus {
  readonly state: ScanState;
  readonly mode: ScanSettings["mode"];
  readonly pass: number;
  readonly cursorBlock: number;
  readonly scannedBlocks: number;
  readonly totalBlocks: number;
  readonly bytesRead: number;
  readonly errorsFound: number;
  readonly suspectBlocks: number;
  readonly weakBlocks: number;
  readonly bytesPerSecond: number;
  readonly etaSeconds: number | null;
  readonly neighbourhoodQueue: number;
  /** Known errors whose surroundings are re-read, and the blocks one re-read round covers. */
  readonly hotZones: {
    readonly knownErrors: number;
    readonly roundBlocks: number;
    readonly padBlocks: number;
  };
  readonly passStartedAt: number | null;
  readonly nextPassAt: number | null;
  readonly totals: { readonly bytesRead: number; readonly errorsFound: number; readonly passes: number };
  readonly pacing: PacerStatus;
  readonly lastPass: ScanRecord["history"][number] | null;
  readonly history: ScanRecord["history"];
  readonly suspects: SuspectRecord[];
}
