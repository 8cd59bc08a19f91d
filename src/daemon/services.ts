// The one list of per-target services: each entry builds a Service for one served target (scanner,
// forecast, alerts ...). The daemon starts them after the targets open and stops them before close.
import { forecastService, scannerService } from "./health-services.js";
import { sparePoolService } from "./spare-pool-service.js";
import type { Service } from "../core/service.js";
import type { AlertEvent } from "./alerts.js";
import type { TargetConfig } from "./config.js";
import type { Logger } from "./logger.js";
import type { AssembledTarget } from "./stack.js";
import type { ControlTarget } from "./target.js";

/** A clock services read instead of Date.now (tests inject their own). */
export interface Clock {
  now(): number;
}

/** What a per-target service factory gets. */
export interface TargetServiceContext {
  /** The target's control surface (status, verbs). */
  readonly target: ControlTarget;
  /** The opened stack (RemappedDevice: subscribe(), scanRead() ...). */
  readonly stack: AssembledTarget;
  readonly config: TargetConfig;
  /** Logger with `target` set. */
  readonly logger: Logger;
  readonly clock: Clock;
  /** Folder for daemon state ([daemon] data_dir), when configured. */
  readonly dataDir?: string;
  /** Raise an alert (e.g. kind "tier" on a risk-tier change), when [alerts] is configured. */
  readonly alert?: (event: AlertEvent) => void;
}

/** Builds one service for a target, or undefined when the target does not want it (disabled in config). */
export type TargetServiceFactory = (ctx: TargetServiceContext) => Service | undefined;

/**
 * Per-target services, in start order (stopped in reverse). Adding a service: one line here.
 */
export const TARGET_SERVICES: readonly TargetServiceFactory[] = [
  forecastService,
  scannerService,
  sparePoolService,
];

/** The system clock. */
export const SYSTEM_CLOCK: Clock = { now: () => Date.now() };
