// The metrics sink the daemon and HTTP API talk to; metrics.ts implements it with prom-client.

/** What the daemon records and the API serves; Prometheus stays behind this interface. */
export interface MetricsAdapter {
  /** Content-Type of render()'s output. */
  readonly contentType: string;
  /** The exposition text for a scrape (values taken from the targets' status at this moment). */
  render(): Promise<string>;
  /** Record the duration of one I/O request (`op`: read, write, flush, trim, zero ...). */
  observeRequest(target: string, op: string, seconds: number): void;
}
