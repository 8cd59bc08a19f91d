// Typed errors of the health services (scanner, forecast, SMART ingestion), one class per condition.
import { DmremapError } from "../core/errors.js";

/** Base of every health error. */
export class HealthError extends DmremapError {}

/** A scan control verb that does not apply in the scanner's current state (e.g. pause while idle). */
export class ScanStateError extends HealthError {
  constructor(
    readonly target: string,
    readonly action: string,
    readonly state: string,
  ) {
    super("ESCANSTATE", `${target}: cannot ${action} the scan while it is ${state}`);
  }
}

/** A health state file (scan cursor, event history) exists but cannot be used. */
export class HealthStateFileError extends HealthError {
  constructor(
    readonly path: string,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super("EHEALTHSTATE", `${path}: ${reason}`, options);
  }
}

/** smartctl could not be run or its JSON output is unusable. */
export class SmartError extends HealthError {
  constructor(
    readonly device: string,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super("ESMART", `smartctl ${device}: ${reason}`, options);
  }
}
