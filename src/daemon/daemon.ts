// The daemon: an ordered list of services (targets, per-target services, API, NBD) started in order
// and stopped in reverse, the whole stop bounded by daemon.shutdown_timeout.
import type { Service, ServiceStatus } from "../core/service.js";
import { NbdServer } from "../nbd/server.js";
import type { NbdTlsOptions } from "../nbd/tls.js";
import { alertServiceFor, type AlertEvent } from "./alerts.js";
import { loadApiToken } from "./api-token.js";
import type { DaemonConfig } from "./config.js";
import { createApiServer, type ApiServer } from "./http-api.js";
import { observeForeground } from "./health-services.js";
import { observeDashboardLatency } from "./web-routes.js";
import { formatListenAddress, type ListenAddress } from "./listen-address.js";
import type { Logger } from "./logger.js";
import { createMetrics, type PrometheusMetrics } from "./metrics.js";
import { ServiceRunner, type ServiceView, type StopReport } from "./service-runner.js";
import { SYSTEM_CLOCK, TARGET_SERVICES, type Clock, type TargetServiceFactory } from "./services.js";
import { TargetsService } from "./targets-service.js";
import type { ControlTarget } from "./target.js";

/** Options of the daemon beyond its config. */
export interface DaemonOptions {
  readonly logger: Logger;
  /** Size of main / spare files created when a target has `create = true` and they do not exist. */
  readonly createMainBytes?: number;
  readonly createSpareBytes?: number;
  /** Per-target service factories (default: TARGET_SERVICES). */
  readonly targetServices?: readonly TargetServiceFactory[];
  readonly clock?: Clock;
}

/** The addresses the daemon ended up listening on (real ports when 0 was configured). */
export interface DaemonAddresses {
  readonly nbd: readonly string[];
  readonly api?: string;
}

/** The NBD server as a service. */
class NbdService implements Service {
  readonly name = "nbd";
  private state: ServiceStatus["state"] = "stopped";
  constructor(readonly server: NbdServer) {}
  async start(): Promise<void> {
    this.state = "starting";
    await this.server.start();
    this.state = "running";
  }
  async stop(signal?: AbortSignal): Promise<void> {
    this.state = "stopping";
    // In-flight requests are answered (bounded by the request deadline); the runner's bound wins.
    await this.server.stop();
    this.state = signal?.aborted ? "failed" : "stopped";
  }
  status(): ServiceStatus {
    return { state: this.state, details: { ...this.server.status() } };
  }
}

/** The control API as a service. */
class ApiService implements Service {
  readonly name = "api";
  private state: ServiceStatus["state"] = "stopped";
  bound: ListenAddress | undefined;
  constructor(
    private readonly server: ApiServer,
    private readonly listen: ListenAddress,
  ) {}
  async start(): Promise<void> {
    this.state = "starting";
    this.bound = await this.server.start(this.listen);
    this.state = "running";
  }
  async stop(): Promise<void> {
    this.state = "stopping";
    await this.server.stop();
    this.state = "stopped";
  }
  status(): ServiceStatus {
    return {
      state: this.state,
      ...(this.bound ? { details: { listen: formatListenAddress(this.bound) } } : {}),
    };
  }
}

/** Runs the configured targets until stop(). */
export class Daemon {
  private readonly runner: ServiceRunner;
  private readonly targetsService: TargetsService;
  private readonly metrics: PrometheusMetrics | undefined;

  constructor(
    readonly config: DaemonConfig,
    private readonly options: DaemonOptions,
  ) {
    this.runner = new ServiceRunner(options.logger.child({ component: "services" }));
    if (config.metrics.enabled) {
      this.metrics = createMetrics({
        targets: () => this.controls(),
        processMetrics: config.metrics.processMetrics,
        logger: options.logger,
      });
    }
    this.targetsService = new TargetsService({
      config,
      logger: options.logger,
      ...(this.metrics ? { metrics: this.metrics } : {}),
      ...(options.createMainBytes ? { createMainBytes: options.createMainBytes } : {}),
      ...(options.createSpareBytes ? { createSpareBytes: options.createSpareBytes } : {}),
    });
  }

  /** Control surfaces of the running targets. */
  controls(): ControlTarget[] {
    return this.targetsService.targets().map((t) => t.control);
  }

  /** Live state of every started service, in start order. */
  services(): ServiceView[] {
    return this.runner.status();
  }

  private tlsOptions(): NbdTlsOptions | undefined {
    const { tlsCert, tlsKey, tlsPskFile } = this.config.nbd;
    if (!tlsCert && !tlsPskFile) return undefined;
    return {
      ...(tlsCert ? { certFile: tlsCert } : {}),
      ...(tlsKey ? { keyFile: tlsKey } : {}),
      ...(tlsPskFile ? { pskFile: tlsPskFile } : {}),
    };
  }

  private nbdService(): NbdService {
    const tls = this.tlsOptions();
    const metrics = this.metrics;
    return new NbdService(
      new NbdServer({
        exports: this.targetsService.targets().map((t) => ({
          name: t.config.exportName,
          device: t.stack.device,
          observe: (times) => {
            metrics?.observeRequests(t.config.name, times);
            // Client reads and writes pace the background scanner (docs/HEALTH.md).
            observeForeground(t.control, times);
            observeDashboardLatency(t.control, times);
          },
          description: `dmremap set ${t.config.name}`,
          preferredBlockSize: t.stack.device.blockSize,
        })),
        listen: this.config.nbd.listen,
        ...(tls ? { tls } : {}),
        logger: this.options.logger.child({ component: "nbd" }),
        requestDeadlineMs: this.config.nbd.requestDeadlineMs,
        maxInFlight: this.config.nbd.maxInFlight,
        allowInsecure: this.config.nbd.allowInsecure,
      }),
    );
  }

  private async apiService(): Promise<ApiService> {
    const token = this.config.api.tokenFile ? await loadApiToken(this.config.api.tokenFile) : undefined;
    const server = createApiServer({
      targets: () => this.controls(),
      services: () => this.services(),
      ...(token ? { token } : {}),
      ...(this.metrics ? { metrics: this.metrics } : {}),
      logger: this.options.logger.child({ component: "api" }),
    });
    return new ApiService(server, this.config.api.listen);
  }

  /** Start every service in order. On failure, everything started is stopped again. */
  async start(): Promise<DaemonAddresses> {
    const log = this.options.logger;
    try {
      await this.runner.start(this.targetsService);
      const alerts = alertServiceFor(
        this.config.alerts,
        log,
        () => this.targetsService.targets(),
        this.options.clock,
      );
      if (alerts) await this.runner.start(alerts);
      const factories = this.options.targetServices ?? TARGET_SERVICES;
      for (const t of this.targetsService.targets()) {
        for (const factory of factories) {
          const service = factory({
            target: t.control,
            stack: t.stack,
            config: t.config,
            logger: log.child({ target: t.config.name }),
            clock: this.options.clock ?? SYSTEM_CLOCK,
            ...(this.config.daemon.dataDir ? { dataDir: this.config.daemon.dataDir } : {}),
            ...(alerts ? { alert: (event: AlertEvent) => alerts.notify(event) } : {}),
          });
          if (service) await this.runner.start(service);
        }
      }
      const api = await this.apiService();
      await this.runner.start(api);
      const nbd = this.nbdService();
      await this.runner.start(nbd);
      const addresses = {
        nbd: nbd.server.status().listening,
        ...(api.bound ? { api: formatListenAddress(api.bound) } : {}),
      };
      log.lifecycle("ready", { targets: this.controls().map((t) => t.name), ...addresses });
      return addresses;
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  /**
   * Stop every service in reverse order (NBD answers in-flight requests, API, per-target services,
   * then every target is flushed, checkpointed and closed), all within daemon.shutdown_timeout.
   */
  async stop(): Promise<StopReport> {
    const log = this.options.logger;
    const report = await this.runner.stop(this.config.daemon.shutdownTimeoutMs);
    if (report.clean) log.lifecycle("stopped");
    else log.error("stopped, but not cleanly", { problems: report.problems });
    return report;
  }
}
