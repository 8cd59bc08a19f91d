// The service contract: every long-running part of the daemon (NBD server, API, scanner, forecast,
// alerts, pool jobs) is a Service, started in list order and stopped in reverse by the daemon.

/** Live state of a service, as rendered by status views and the API. */
export interface ServiceStatus {
  readonly state: "stopped" | "starting" | "running" | "stopping" | "failed";
  /** Free-form, JSON-serialisable details (counters, progress). */
  readonly details?: Readonly<Record<string, unknown>>;
}

/** A long-running part of the daemon. */
export interface Service {
  /** Stable name, e.g. "nbd", "api", "scanner:disk0". */
  readonly name: string;
  /** Start; resolves once the service is running. Throws to abort daemon start-up. */
  start(): Promise<void>;
  /**
   * Stop; resolves once the service has stopped. `signal` aborts when the daemon's shutdown bound
   * is reached: the service must then give up waiting and return promptly.
   */
  stop(signal?: AbortSignal): Promise<void>;
  /** Live state. */
  status(): ServiceStatus;
}
