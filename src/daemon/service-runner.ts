// Runs an ordered list of services: start in order, stop in reverse, each stop bounded by the
// shutdown deadline (its AbortSignal fires then, and a service that still does not return is left).
import type { Service, ServiceStatus } from "../core/service.js";
import type { Logger } from "./logger.js";

/** One service's entry in a status view. */
export interface ServiceView extends ServiceStatus {
  readonly name: string;
}

/** What a bounded stop achieved. */
export interface StopReport {
  /** Every service stopped within the bound and without error. */
  readonly clean: boolean;
  /** Services that failed to stop or did not return in time, with why. */
  readonly problems: readonly { readonly service: string; readonly problem: string }[];
}

/** How long a service that ignores its abort signal gets before it is left behind. */
const ABANDON_GRACE_MS = 1000;

/** The started services, in start order. */
export class ServiceRunner {
  private readonly started: Service[] = [];

  constructor(private readonly logger: Logger) {}

  /** Start `service` and remember it for stop(); a failure leaves it out and is thrown. */
  async start(service: Service): Promise<void> {
    await service.start();
    this.started.push(service);
    this.logger.debug("service started", { service: service.name });
  }

  /** Live state of every started service. */
  status(): ServiceView[] {
    return this.started.map((s) => ({ name: s.name, ...safeStatus(s) }));
  }

  /**
   * Stop every started service in reverse order. All of them share one deadline `boundMs` from now:
   * at the deadline the shared signal aborts, and a service still not done after a short grace is
   * reported and left behind (the process exits anyway).
   */
  async stop(boundMs: number): Promise<StopReport> {
    const controller = new AbortController();
    const deadline = setTimeout(
      () => controller.abort(new Error(`shutdown bound ${boundMs} ms reached`)),
      boundMs,
    );
    const problems: { service: string; problem: string }[] = [];
    try {
      for (const service of this.started.splice(0).reverse()) {
        const problem = await stopOne(service, controller.signal);
        if (problem) {
          problems.push({ service: service.name, problem });
          this.logger.error("service did not stop cleanly", { service: service.name, problem });
        }
      }
    } finally {
      clearTimeout(deadline);
    }
    return { clean: problems.length === 0, problems };
  }
}

function safeStatus(service: Service): ServiceStatus {
  try {
    return service.status();
  } catch (err) {
    return { state: "failed", details: { error: String(err) } };
  }
}

/** Stop one service; returns a problem text, or undefined when it stopped cleanly. */
async function stopOne(service: Service, signal: AbortSignal): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const abandoned = new Promise<string>((resolve) => {
    const leave = () => {
      timer = setTimeout(
        () => resolve("did not return after the shutdown bound; left behind"),
        ABANDON_GRACE_MS,
      );
    };
    if (signal.aborted) leave();
    else signal.addEventListener("abort", leave, { once: true });
  });
  try {
    return await Promise.race([service.stop(signal).then(() => undefined), abandoned]);
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  } finally {
    clearTimeout(timer);
  }
}
