// The service that owns the served sets: opens every configured target (refusing overlapping
// devices across targets) and, on stop, flushes and closes them within the shutdown bound.
import type { Service, ServiceStatus } from "../core/service.js";
import type { Region } from "../block/overlap.js";
import type { DaemonConfig, TargetConfig } from "./config.js";
import { faultRulesFromConfig } from "./config-faults.js";
import { registerSpareTarget } from "./spare-routes.js";
import { openServedStack, registerReplaceTarget } from "./replace-routes.js";
import { controlTarget } from "./control-target.js";
import { ShutdownIncompleteError } from "./errors.js";
import type { Logger } from "./logger.js";
import type { PrometheusMetrics } from "./metrics.js";
import { readSetIdentity, targetRegions, type AssembledTarget, type TargetDefinition } from "./stack.js";
import { stateLogger } from "./state-log.js";
import type { ControlTarget } from "./target.js";

/** One opened target. */
export interface RunningTarget {
  readonly config: TargetConfig;
  readonly stack: AssembledTarget;
  readonly control: ControlTarget;
}

/** Options of the targets service. */
export interface TargetsServiceOptions {
  readonly config: DaemonConfig;
  readonly logger: Logger;
  readonly metrics?: PrometheusMetrics;
  /** Size of main / spare files created when a target has `create = true` and they do not exist. */
  readonly createMainBytes?: number;
  readonly createSpareBytes?: number;
}

/** Does this set already exist on its spares? (blank or missing spares -> false) */
async function setExists(spares: readonly string[]): Promise<boolean> {
  try {
    await readSetIdentity(spares);
    return true;
  } catch {
    return false;
  }
}

/** Resolve `promise`, or "aborted" once `signal` fires (the promise is left running). */
function unlessAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T | "aborted"> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.resolve("aborted");
  return Promise.race([
    promise,
    new Promise<"aborted">((resolve) =>
      signal.addEventListener("abort", () => resolve("aborted"), { once: true }),
    ),
  ]);
}

/** Opens the configured targets on start; flushes, checkpoints and closes them on stop. */
export class TargetsService implements Service {
  readonly name = "targets";
  private running: RunningTarget[] = [];
  private state: ServiceStatus["state"] = "stopped";

  constructor(private readonly options: TargetsServiceOptions) {}

  /** The opened targets, in config order. */
  targets(): readonly RunningTarget[] {
    return this.running;
  }

  async start(): Promise<void> {
    this.state = "starting";
    const others: Region[] = [];
    try {
      for (const t of this.options.config.targets) {
        const target = await this.open(t, others);
        this.running.push(target);
        others.push(...(await targetRegions({ ...t, main: t.main })));
      }
      this.state = "running";
    } catch (err) {
      await this.stop();
      this.state = "failed";
      throw err;
    }
  }

  private async open(config: TargetConfig, otherRegions: readonly Region[]): Promise<RunningTarget> {
    const log = this.options.logger.child({ target: config.name });
    const def: TargetDefinition = {
      name: config.name,
      main: config.main,
      spares: config.spares,
      policy: config.policy,
      blockSize: config.blockSize,
      ...(config.faults ? { faults: faultRulesFromConfig(config.faults, config.blockSize) } : {}),
      ...(this.options.createMainBytes ? { createMainBytes: this.options.createMainBytes } : {}),
      ...(this.options.createSpareBytes ? { createSpareBytes: this.options.createSpareBytes } : {}),
    };
    const events = stateLogger(log, config.name, this.options.metrics);
    const create = config.create && !(await setExists(config.spares));
    if (create) log.info("creating set", { main: config.main, spares: config.spares });
    const stack = await openServedStack(
      def,
      { mode: create ? "create" : "serve", events, otherRegions },
      (m) => log.warn(m),
    );
    for (const note of stack.opened.notes) log.warn(note);
    if (stack.device.blockSize !== config.blockSize) {
      log.warn("configured block_size differs from the set's; the set's is used", {
        configured: config.blockSize,
        actual: stack.device.blockSize,
      });
    }
    const control = controlTarget(config.name, config.exportName, stack);
    registerSpareTarget(control, stack, log);
    await registerReplaceTarget(control, stack, log);
    events.opened(control.status());
    return { config, stack, control };
  }

  /**
   * Flush, checkpoint and close every target, in parallel. When `signal` aborts first, what could
   * not be finished is logged per target and the stop fails with ShutdownIncompleteError.
   */
  async stop(signal?: AbortSignal): Promise<void> {
    this.state = "stopping";
    const targets = this.running.splice(0);
    const unfinished: string[] = [];
    await Promise.all(
      targets.map(async (t) => {
        const log = this.options.logger.child({ target: t.config.name });
        const flushed = await unlessAborted(
          t.stack.device.flush().then(
            () => "ok" as const,
            (err: unknown) => {
              log.error("flush on shutdown failed", { error: String(err) });
              return "failed" as const;
            },
          ),
          signal,
        );
        if (flushed === "aborted") {
          log.error(
            "could not flush before the shutdown bound: writes acknowledged since the last flush may not be on stable storage",
            {
              main: t.stack.main.describe(),
            },
          );
          unfinished.push(`${t.config.name}: not flushed`);
          return;
        }
        const closed = await unlessAborted(
          t.stack.close().then(
            () => "ok" as const,
            (err: unknown) => {
              log.error("close on shutdown failed", { error: String(err) });
              return "failed" as const;
            },
          ),
          signal,
        );
        if (closed === "aborted") {
          log.error(
            "could not close before the shutdown bound: no final checkpoint (the journal is replayed on the next open)",
          );
          unfinished.push(`${t.config.name}: not closed`);
        } else if (flushed === "failed" || closed === "failed")
          unfinished.push(`${t.config.name}: flush or close failed`);
      }),
    );
    this.state = unfinished.length > 0 ? "failed" : "stopped";
    if (unfinished.length > 0) throw new ShutdownIncompleteError(unfinished);
  }

  status(): ServiceStatus {
    return { state: this.state, details: { targets: this.running.map((t) => t.config.name) } };
  }
}
