// The daemon service: assembles every configured target, exports them over NBD, serves the control
// API and metrics, and shuts down in order (stop NBD -> flush + checkpoint -> close devices).
import { NbdServer } from "../nbd/server.js";
import { MeasuredDevice } from "../block/measured-device.js";
import { loadApiToken } from "./api-token.js";
import type { NbdTlsOptions } from "../nbd/tls.js";
import type { RemapEvents } from "../remap/remap-events.js";
import { controlTarget } from "./control-target.js";
import type { DaemonConfig, TargetConfig } from "./config.js";
import { faultRulesFromConfig } from "./config-faults.js";
import { createApiServer, type ApiServer } from "./http-api.js";
import { formatListenAddress } from "./listen-address.js";
import type { Logger } from "./logger.js";
import { createMetrics, type PrometheusMetrics } from "./metrics.js";
import {
  assembleTarget,
  createTarget,
  readSetIdentity,
  type AssembledTarget,
  type TargetDefinition,
} from "./stack.js";
import type { ControlTarget } from "./target.js";

/** One running target. */
interface RunningTarget {
  readonly config: TargetConfig;
  readonly stack: AssembledTarget;
  readonly control: ControlTarget;
}

/** Options of the daemon beyond its config. */
export interface DaemonOptions {
  readonly logger: Logger;
  /** Size of main / spare files created when a target has `create = true` and they do not exist. */
  readonly createMainBytes?: number;
  readonly createSpareBytes?: number;
}

/** The addresses the daemon ended up listening on (real ports when 0 was configured). */
export interface DaemonAddresses {
  readonly nbd: readonly string[];
  readonly api?: string;
}

function events(logger: Logger, target: string): RemapEvents {
  const log = logger.child({ target });
  return {
    onRemap: (e) => log.warn("block remapped", e),
    onUnremap: (e) => log.info("block unremapped", e),
    onPending: (e) => log.warn("block pending: unreadable on main", e),
    onPendingCleared: (e) => log.info("pending block cleared", e),
    onStateChange: (e) => (e.state === "healthy" ? log.info : log.error)("target state changed", e),
    onSpareAlert: (e) => log.warn("spare slots nearly exhausted", e),
    onBackgroundError: (e) => log.error("background task failed", { task: e.task, error: String(e.error) }),
  };
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

/** Runs the configured targets until stop(). */
export class Daemon {
  private targets: RunningTarget[] = [];
  private nbd: NbdServer | undefined;
  private api: ApiServer | undefined;
  private readonly metrics: PrometheusMetrics | undefined;

  constructor(
    readonly config: DaemonConfig,
    private readonly options: DaemonOptions,
  ) {
    if (config.metrics.enabled) {
      this.metrics = createMetrics({
        targets: () => this.controls(),
        processMetrics: config.metrics.processMetrics,
        logger: options.logger,
      });
    }
  }

  /** Control surfaces of the running targets. */
  controls(): ControlTarget[] {
    return this.targets.map((t) => t.control);
  }

  private async openTarget(config: TargetConfig): Promise<RunningTarget> {
    const def: TargetDefinition = {
      name: config.name,
      main: config.main,
      spares: config.spares,
      policy: {
        writeRetries: config.policy.writeRetries,
        readRetries: config.policy.readRetries,
        readRetryBudgetMs: config.policy.readRetryBudgetMs,
        migrateOnRecoveredRead: config.policy.migrateOnRecoveredRead,
        spareAlertPercent: config.policy.spareThresholdPercent,
      },
      ...(config.faults ? { faults: faultRulesFromConfig(config.faults, config.blockSize) } : {}),
    };
    const ev = events(this.options.logger, config.name);
    let stack: AssembledTarget;
    if (config.create && !(await setExists(config.spares))) {
      this.options.logger.info("creating set", {
        target: config.name,
        main: config.main,
        spares: config.spares,
      });
      stack = await createTarget(
        { ...def, main: config.main, blockSize: config.blockSize },
        {
          events: ev,
          ...(this.options.createMainBytes ? { createMainBytes: this.options.createMainBytes } : {}),
          ...(this.options.createSpareBytes ? { createSpareBytes: this.options.createSpareBytes } : {}),
        },
      );
    } else {
      stack = await assembleTarget(def, { events: ev });
    }
    for (const note of stack.opened.notes) this.options.logger.warn(note, { target: config.name });
    if (stack.device.blockSize !== config.blockSize) {
      this.options.logger.warn("configured block_size differs from the set's; the set's is used", {
        target: config.name,
        configured: config.blockSize,
        actual: stack.device.blockSize,
      });
    }
    return { config, stack, control: controlTarget(config.name, config.exportName, stack) };
  }

  private async tlsOptions(): Promise<NbdTlsOptions | undefined> {
    const { tlsCert, tlsKey, tlsPskFile } = this.config.nbd;
    if (!tlsCert && !tlsPskFile) return undefined;
    return {
      ...(tlsCert ? { certFile: tlsCert } : {}),
      ...(tlsKey ? { keyFile: tlsKey } : {}),
      ...(tlsPskFile ? { pskFile: tlsPskFile } : {}),
    };
  }

  /** Open every target, then start NBD and the API. On failure, everything opened is closed again. */
  async start(): Promise<DaemonAddresses> {
    const log = this.options.logger;
    try {
      for (const t of this.config.targets) this.targets.push(await this.openTarget(t));
      const tls = await this.tlsOptions();
      this.nbd = new NbdServer({
        exports: this.targets.map((t) => ({
          name: t.config.exportName,
          device: this.metrics
            ? new MeasuredDevice(t.stack.device, (op, seconds) =>
                this.metrics!.observeRequest(t.config.name, op, seconds),
              )
            : t.stack.device,
          description: `dmremap set ${t.config.name}`,
          preferredBlockSize: t.stack.device.blockSize,
        })),
        listen: this.config.nbd.listen,
        ...(tls ? { tls } : {}),
        logger: log.child({ component: "nbd" }),
        requestDeadlineMs: this.config.nbd.requestDeadlineMs,
        maxInFlight: this.config.nbd.maxInFlight,
        allowInsecure: this.config.nbd.allowInsecure,
      });
      await this.nbd.start();
      const token = this.config.api.tokenFile ? await loadApiToken(this.config.api.tokenFile) : undefined;
      this.api = createApiServer({
        targets: () => this.controls(),
        ...(token ? { token } : {}),
        ...(this.metrics ? { metrics: this.metrics } : {}),
        logger: log.child({ component: "api" }),
      });
      const api = await this.api.start(this.config.api.listen);
      const addresses = {
        nbd: this.nbd.status().listening,
        api: formatListenAddress(api),
      };
      log.lifecycle("ready", { targets: this.targets.map((t) => t.config.name), ...addresses });
      return addresses;
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  /** Stop NBD (in-flight requests answered), stop the API, flush + checkpoint + close every target. */
  async stop(): Promise<void> {
    const log = this.options.logger;
    await this.nbd?.stop();
    this.nbd = undefined;
    await this.api?.stop();
    this.api = undefined;
    const targets = this.targets;
    this.targets = [];
    for (const t of targets) {
      try {
        await t.stack.device.flush();
      } catch (err) {
        log.error("flush on shutdown failed", { target: t.config.name, error: String(err) });
      }
      try {
        await t.stack.close();
      } catch (err) {
        log.error("close on shutdown failed", { target: t.config.name, error: String(err) });
      }
    }
    log.lifecycle("stopped");
  }
}
