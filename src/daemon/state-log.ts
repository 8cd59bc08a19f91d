// Turns a target's remap events into log lines and metrics. Every state change is one line at warn
// (healthy, degraded) or error (read-only, failed) naming the old and new state and the reason.
import type { RemapEvents, RemapState } from "../remap/remap-events.js";
import type { Logger } from "./logger.js";
import type { PrometheusMetrics } from "./metrics.js";

/** Remap events plus `opened`, called once with the status right after the target opened. */
export interface TargetEventLog extends RemapEvents {
  opened(status: { state: RemapState; reason?: string }): void;
}

/** Events of one target, logged on `log` (which carries the target's name) and counted in `metrics`. */
export function stateLogger(log: Logger, target: string, metrics?: PrometheusMetrics): TargetEventLog {
  let last: RemapState | undefined;
  const changed = (state: RemapState, reason: string) => {
    const from = last ?? "opening";
    last = state;
    const fields = { from, to: state, reason };
    if (state === "read-only" || state === "failed") log.error("target state changed", fields);
    else log.warn("target state changed", fields);
    metrics?.stateChanged(target, state);
  };
  return {
    opened: (status) => {
      // Opening healthy is the expected start, not a change worth a warning.
      if (status.state === "healthy") last = "healthy";
      else changed(status.state, status.reason ?? "");
    },
    onRemap: (e) => log.warn("block remapped", e),
    onUnremap: (e) => log.info("block unremapped", e),
    onPending: (e) => log.warn("block pending: unreadable on main", e),
    onPendingCleared: (e) => log.info("pending block cleared", e),
    onStateChange: (e) => {
      if (e.state !== last) changed(e.state, e.reason);
    },
    onFencedWrite: (e) => log.warn("main write timed out: range fenced, block remapped", { ...e }),
    onRemapFailed: (e) =>
      log.error("remap failed", { block: e.block, reason: e.reason, error: String(e.error) }),
    onSpareAlert: (e) => log.warn("spare slots nearly exhausted", e),
    onMirror: (e) => log.warn(`mirror copy ${e.action}`, e),
    onBackgroundError: (e) => log.error("background task failed", { task: e.task, error: String(e.error) }),
  };
}
