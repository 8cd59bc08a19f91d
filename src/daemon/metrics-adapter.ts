// The metrics sink the daemon and HTTP API talk to; metrics.ts implements it with prom-client.
import type { RequestTimes } from "../core/request-times.js";

/** What the daemon records and the API serves; Prometheus stays behind this interface. */
export interface MetricsAdapter {
  /** Content-Type of render()'s output. */
  readonly contentType: string;
  /** The exposition text for a scrape (values taken from the targets' status at this moment). */
  render(): Promise<string>;
  /** Record a batch of request durations (the NBD server's hand-over; ops read, write, flush, trim, zero). */
  observeRequests(target: string, times: RequestTimes): void;
}
