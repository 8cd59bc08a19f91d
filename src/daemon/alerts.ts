// Alerts that reach a person without a Prometheus stack, in the manner of smartd's -M exec: on every
// change of a target's state (or risk tier, or spare alarm) run [alerts] exec with DMREMAP_ALERT_*
// environment variables and/or POST the alert as JSON to [alerts] webhook; rate-limited per target.
import { spawn } from "node:child_process";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { hostname } from "node:os";
import type { Service, ServiceStatus } from "../core/service.js";
import type { RemapEvents } from "../remap/remap-events.js";
import { AlertDeliveryError } from "./errors.js";
import type { Logger } from "./logger.js";
import type { Clock } from "./services.js";
import type { RunningTarget } from "./targets-service.js";

/** Settings of the [alerts] table. */
export interface AlertsConfig {
  /** Program run once per alert (no shell, no arguments; the alert is in its environment and stdin). */
  readonly exec?: string;
  /** http(s) URL that receives each alert as a JSON POST. */
  readonly webhook?: string;
  /** At most one alert per target in this interval; changes in between are coalesced. */
  readonly minIntervalMs: number;
  /** An exec or webhook delivery still running after this is abandoned (and counted as failed). */
  readonly timeoutMs: number;
}

/**
 * One change worth telling a person about. Generic so other services can raise their own kinds:
 * "state" (healthy, degraded, read-only, failed), "spare" (nearly-exhausted), "tier" (risk tier of
 * the health forecast), "test" (`dmremap alert test`).
 */
export interface AlertEvent {
  readonly target: string;
  readonly kind: string;
  /** The new value (state, tier ...). */
  readonly value: string;
  /** The value before, when known. */
  readonly previous?: string;
  readonly reason: string;
  /** Overrides the severity derived from kind and value. */
  readonly severity?: AlertSeverity;
}

/** How urgent an alert is. */
export type AlertSeverity = "info" | "warning" | "critical";

/** What is delivered: the event plus where, when, how urgent, and how many changes were coalesced into it. */
export interface Alert extends AlertEvent {
  readonly severity: AlertSeverity;
  readonly host: string;
  /** ISO 8601 time of the (latest) change. */
  readonly time: string;
  /** Changes of this target held back by rate limiting since the previous alert, folded into this one. */
  readonly suppressed: number;
  /** One line, like smartd's SMARTD_SUBJECT. */
  readonly subject: string;
}

/** One way of delivering an alert (the exec program, the webhook). */
export interface AlertSink {
  readonly name: string;
  deliver(alert: Alert, signal: AbortSignal): Promise<void>;
}

/** Timers, injectable so rate limiting is tested without waiting. */
export interface AlertTimers {
  set(ms: number, fn: () => void): () => void;
}

const REAL_TIMERS: AlertTimers = {
  set(ms, fn) {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
};

function severityOf(event: AlertEvent): AlertSeverity {
  if (event.severity) return event.severity;
  if (event.kind === "test" || event.value === "healthy") return "info";
  if (event.value === "read-only" || event.value === "failed") return "critical";
  return "warning";
}

/** The environment of the exec program: DMREMAP_ALERT_* variables (documented in docs/OPERATIONS.md). */
export function alertEnvironment(alert: Alert): Record<string, string> {
  return {
    DMREMAP_ALERT_KIND: alert.kind,
    DMREMAP_ALERT_TARGET: alert.target,
    DMREMAP_ALERT_VALUE: alert.value,
    DMREMAP_ALERT_PREVIOUS: alert.previous ?? "",
    DMREMAP_ALERT_REASON: alert.reason,
    DMREMAP_ALERT_SEVERITY: alert.severity,
    DMREMAP_ALERT_HOST: alert.host,
    DMREMAP_ALERT_TIME: alert.time,
    DMREMAP_ALERT_SUPPRESSED: String(alert.suppressed),
    DMREMAP_ALERT_SUBJECT: alert.subject,
  };
}

/** Runs the configured program with the alert in its environment and, as JSON, on its standard input. */
export function execSink(path: string, timeoutMs: number): AlertSink {
  return {
    name: `exec ${path}`,
    deliver: (alert, signal) =>
      new Promise<void>((resolve, reject) => {
        const child = spawn(path, [], {
          env: { ...process.env, ...alertEnvironment(alert) },
          stdio: ["pipe", "ignore", "pipe"],
          timeout: timeoutMs,
          signal,
        });
        let stderr = "";
        child.stderr.on("data", (c: Buffer) => {
          if (stderr.length < 2048) stderr += c.toString();
        });
        child.stdin.on("error", () => {}); // a program that does not read stdin is fine
        child.stdin.end(`${JSON.stringify(alert)}\n`);
        child.on("error", (err) =>
          reject(new AlertDeliveryError(`exec ${path}`, err.message, { cause: err })),
        );
        child.on("close", (code, sig) => {
          if (code === 0) resolve();
          else {
            const why = sig ? `killed by ${sig}` : `exited ${code}`;
            reject(new AlertDeliveryError(`exec ${path}`, `${why}${stderr ? `: ${stderr.trim()}` : ""}`));
          }
        });
      }),
  };
}

/** POSTs the alert as JSON; any 2xx answer is success. */
export function webhookSink(url: string, timeoutMs: number): AlertSink {
  const target = new URL(url);
  const request = target.protocol === "https:" ? httpsRequest : httpRequest;
  return {
    name: `webhook ${target.origin}`,
    deliver: (alert, signal) =>
      new Promise<void>((resolve, reject) => {
        const body = JSON.stringify(alert);
        const req = request(
          target,
          {
            method: "POST",
            timeout: timeoutMs,
            signal,
            headers: {
              "content-type": "application/json",
              "content-length": Buffer.byteLength(body),
              "user-agent": "dmremap-alerts",
            },
          },
          (res) => {
            res.resume();
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) resolve();
            else reject(new AlertDeliveryError(`webhook ${target.origin}`, `HTTP ${status}`));
          },
        );
        req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
        req.on("error", (err) =>
          reject(new AlertDeliveryError(`webhook ${target.origin}`, err.message, { cause: err })),
        );
        req.end(body);
      }),
  };
}

/** The sinks configured in [alerts] (none when neither exec nor webhook is set). */
export function configuredSinks(config: AlertsConfig): AlertSink[] {
  return [
    ...(config.exec ? [execSink(config.exec, config.timeoutMs)] : []),
    ...(config.webhook ? [webhookSink(config.webhook, config.timeoutMs)] : []),
  ];
}

/** A target whose events are watched: its name, its current state, and how to subscribe. */
export interface WatchedTarget {
  readonly name: string;
  state(): string;
  subscribe(listener: RemapEvents): () => void;
}

/** Options of the alert service. */
export interface AlertServiceOptions {
  readonly config: AlertsConfig;
  readonly logger: Logger;
  readonly targets?: () => readonly WatchedTarget[];
  readonly clock?: Clock;
  readonly timers?: AlertTimers;
  /** Default: the configured exec and webhook. */
  readonly sinks?: readonly AlertSink[];
  readonly host?: string;
}

/** Per-target rate-limit state. */
interface TargetWindow {
  lastValue: Map<string, string>;
  lastSentMs: number | undefined;
  held: AlertEvent | undefined;
  heldCount: number;
  cancel: (() => void) | undefined;
}

/** The alerts service: subscribes to every target on start, delivers alerts until stop. */
export class AlertService implements Service {
  readonly name = "alerts";
  private state: ServiceStatus["state"] = "stopped";
  private readonly sinks: readonly AlertSink[];
  private readonly windows = new Map<string, TargetWindow>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly abort = new AbortController();
  private unsubscribe: (() => void)[] = [];
  private sent = 0;
  private failed = 0;
  private coalesced = 0;
  private lastError: string | undefined;

  constructor(private readonly options: AlertServiceOptions) {
    this.sinks = options.sinks ?? configuredSinks(options.config);
  }

  private now(): number {
    return this.options.clock?.now() ?? Date.now();
  }

  private window(target: string): TargetWindow {
    let w = this.windows.get(target);
    if (!w) {
      w = { lastValue: new Map(), lastSentMs: undefined, held: undefined, heldCount: 0, cancel: undefined };
      this.windows.set(target, w);
    }
    return w;
  }

  async start(): Promise<void> {
    this.state = "starting";
    for (const t of this.options.targets?.() ?? []) {
      // The state at start is the baseline: only changes from here on are alerts.
      this.window(t.name).lastValue.set("state", t.state());
      this.unsubscribe.push(
        t.subscribe({
          onStateChange: (e) =>
            this.notify({ target: t.name, kind: "state", value: e.state, reason: e.reason }),
          onSpareAlert: (e) =>
            this.notify({
              target: t.name,
              kind: "spare",
              value: "nearly-exhausted",
              reason: `${e.freeBlocks} of ${e.totalBlocks} spare slots free`,
            }),
        }),
      );
    }
    this.state = "running";
  }

  /** Report a change. Repeats of the last value of the same kind are dropped; the rest is rate-limited. */
  notify(event: AlertEvent): void {
    if (this.state !== "running" && event.kind !== "test") return;
    const w = this.window(event.target);
    const previous = w.lastValue.get(event.kind);
    if (event.kind !== "test" && previous === event.value) return;
    w.lastValue.set(event.kind, event.value);
    const withPrevious: AlertEvent =
      previous !== undefined && event.previous === undefined ? { ...event, previous } : event;
    const now = this.now();
    const since = w.lastSentMs === undefined ? Infinity : now - w.lastSentMs;
    if (since >= this.options.config.minIntervalMs && w.held === undefined) {
      w.lastSentMs = now;
      this.dispatch(withPrevious, 0);
      return;
    }
    // Inside the quiet interval: hold the latest change, deliver it when the interval ends.
    if (w.held) this.coalesced++;
    w.held = w.held ? { ...withPrevious, previous: w.held.previous ?? withPrevious.previous } : withPrevious;
    w.heldCount++;
    if (!w.cancel) {
      const wait = Math.max(0, this.options.config.minIntervalMs - since);
      w.cancel = (this.options.timers ?? REAL_TIMERS).set(wait, () => this.release(event.target));
    }
  }

  private release(target: string): void {
    const w = this.window(target);
    w.cancel = undefined;
    if (!w.held) return;
    const held = w.held;
    const folded = w.heldCount - 1;
    w.held = undefined;
    w.heldCount = 0;
    w.lastSentMs = this.now();
    this.dispatch(held, folded);
  }

  /** Send one test alert through every sink now (no rate limit); resolves with each sink's outcome. */
  async test(target = "test"): Promise<{ sink: string; error?: string }[]> {
    const alert = this.alertOf({ target, kind: "test", value: "test", reason: "dmremap alert test" }, 0);
    return Promise.all(
      this.sinks.map(async (sink) => {
        try {
          await sink.deliver(alert, this.abort.signal);
          return { sink: sink.name };
        } catch (err) {
          return { sink: sink.name, error: (err as Error).message };
        }
      }),
    );
  }

  private alertOf(event: AlertEvent, suppressed: number): Alert {
    const host = this.options.host ?? hostname();
    const change = event.previous ? ` (was ${event.previous})` : "";
    const subject =
      event.kind === "test"
        ? `dmremap on ${host}: test alert`
        : `dmremap on ${host}: target ${event.target} ${event.kind} is ${event.value}${change}`;
    return {
      ...event,
      severity: severityOf(event),
      host,
      time: new Date(this.now()).toISOString(),
      suppressed,
      subject: suppressed > 0 ? `${subject}, ${suppressed} earlier change(s) coalesced` : subject,
    };
  }

  private dispatch(event: AlertEvent, suppressed: number): void {
    const alert = this.alertOf(event, suppressed);
    const log = this.options.logger;
    for (const sink of this.sinks) {
      const delivery = sink.deliver(alert, this.abort.signal).then(
        () => {
          this.sent++;
          log.info("alert delivered", {
            sink: sink.name,
            target: alert.target,
            kind: alert.kind,
            value: alert.value,
          });
        },
        (err: unknown) => {
          this.failed++;
          this.lastError = (err as Error).message;
          log.error("alert not delivered", { sink: sink.name, target: alert.target, error: this.lastError });
        },
      );
      this.inFlight.add(delivery);
      void delivery.finally(() => this.inFlight.delete(delivery));
    }
  }

  /** Unsubscribe, drop held alerts, wait for deliveries in flight (abandoned when `signal` aborts). */
  async stop(signal?: AbortSignal): Promise<void> {
    this.state = "stopping";
    for (const off of this.unsubscribe.splice(0)) off();
    for (const w of this.windows.values()) w.cancel?.();
    const onAbort = () => this.abort.abort();
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
    this.state = "stopped";
  }

  status(): ServiceStatus {
    return {
      state: this.state,
      details: {
        sinks: this.sinks.map((s) => s.name),
        sent: this.sent,
        failed: this.failed,
        coalesced: this.coalesced,
        ...(this.lastError ? { lastError: this.lastError } : {}),
      },
    };
  }
}

/** The daemon's alert service for its running targets, or undefined without an [alerts] table. */
export function alertServiceFor(
  config: AlertsConfig | undefined,
  logger: Logger,
  targets: () => readonly RunningTarget[],
  clock?: Clock,
): AlertService | undefined {
  if (!config) return undefined;
  return new AlertService({
    config,
    logger: logger.child({ component: "alerts" }),
    ...(clock ? { clock } : {}),
    targets: () =>
      targets().map((t) => ({
        name: t.config.name,
        state: () => t.control.status().state,
        subscribe: (listener: RemapEvents) => t.stack.device.subscribe(listener),
      })),
  });
}
