// The request-duration histogram, aggregated in plain typed arrays on the data path and turned into
// Prometheus text only at scrape time (prom-client's Histogram hashes its labels on every observe).
import type { Metric, Registry } from "prom-client";
import { REQUEST_OPS, type RequestTimes } from "../core/request-times.js";

/** Counts of one (target, op) series: per-bucket counts, then the sum and the count. */
interface Series {
  readonly target: string;
  readonly op: string;
  readonly buckets: Float64Array;
  sum: number;
  count: number;
}

/** One exposition value, shaped like prom-client's own (so the text output is identical). */
interface ExportValue {
  readonly labels: Record<string, string | number>;
  readonly sharedLabels: Record<string, string>;
  readonly value: number;
  readonly metricName: string;
}

/** A histogram labelled by target and op whose observe() costs a map lookup and a bucket scan. */
export class RequestHistogram {
  readonly type = "histogram";
  readonly aggregator = "sum";
  /** The labels of every series (read by tooling that lists the registry, as with prom-client's own). */
  readonly labelNames = ["target", "op"] as const;
  private readonly bounds: Float64Array;
  private readonly byTarget = new Map<string, Map<string, Series>>();

  constructor(
    readonly name: string,
    readonly help: string,
    buckets: readonly number[],
    registry: Registry,
  ) {
    for (let i = 1; i < buckets.length; i++) {
      if (!(buckets[i]! > buckets[i - 1]!))
        throw new RangeError(`histogram buckets are not increasing at ${buckets[i]}`);
    }
    this.bounds = Float64Array.from(buckets);
    registry.registerMetric(this as unknown as Metric);
  }

  /** Count one request of `op` on `target` that took `seconds`. */
  observe(target: string, op: string, seconds: number): void {
    this.count(this.series(target, op), seconds);
  }

  /** Count a batch of requests on `target` (series looked up once per operation of the batch). */
  observeTimes(target: string, times: RequestTimes): void {
    const bySeries: (Series | undefined)[] = [];
    for (let i = 0; i < times.count; i++) {
      const op = times.ops[i]!;
      const s = (bySeries[op] ??= this.series(target, REQUEST_OPS[op] ?? String(op)));
      this.count(s, times.seconds[i]!);
    }
  }

  private series(target: string, op: string): Series {
    let ops = this.byTarget.get(target);
    if (!ops) this.byTarget.set(target, (ops = new Map()));
    let s = ops.get(op);
    if (!s) {
      s = { target, op, buckets: new Float64Array(this.bounds.length), sum: 0, count: 0 };
      ops.set(op, s);
    }
    return s;
  }

  private count(s: Series, seconds: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && seconds > bounds[i]!) i++;
    if (i < bounds.length) s.buckets[i]!++;
    s.sum += seconds;
    s.count++;
  }

  /** The metric as prom-client's registry renders it (cumulative buckets, +Inf, sum, count). */
  getForPromString(): {
    name: string;
    help: string;
    type: string;
    values: ExportValue[];
    aggregator: string;
  } {
    const values: ExportValue[] = [];
    for (const ops of this.byTarget.values()) {
      for (const s of ops.values()) {
        const shared = { target: s.target, op: s.op };
        let acc = 0;
        for (let i = 0; i < this.bounds.length; i++) {
          acc += s.buckets[i]!;
          values.push(this.value({ le: this.bounds[i]! }, shared, acc, "_bucket"));
        }
        values.push(this.value({ le: "+Inf" }, shared, s.count, "_bucket"));
        values.push(this.value({}, shared, s.sum, "_sum"));
        values.push(this.value({}, shared, s.count, "_count"));
      }
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  /** prom-client's JSON view (labels merged). */
  get(): ReturnType<RequestHistogram["getForPromString"]> {
    const m = this.getForPromString();
    return { ...m, values: m.values.map((v) => ({ ...v, labels: { ...v.sharedLabels, ...v.labels } })) };
  }

  /** Drop every series. */
  reset(): void {
    this.byTarget.clear();
  }

  private value(
    labels: Record<string, string | number>,
    sharedLabels: Record<string, string>,
    value: number,
    suffix: string,
  ): ExportValue {
    return { labels, sharedLabels, value, metricName: this.name + suffix };
  }
}
