// Live chart data of one target: client request latencies collected between ticks (p50 / p99 per
// tick) and the scanner rate, kept in a bounded ring of the most recent ticks.
import { OP_WRITE, type RequestTimes } from "../core/request-times.js";
import type { LiveSeries } from "./dashboard-types.js";

/** Ticks kept (one hour at the default 1 s tick). */
export const LIVE_POINTS = 3600;
/** Latencies kept per tick at most (a uniform sample of them beyond that). */
const TICK_SAMPLES = 4096;

function quantile(sorted: Float64Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** Collects latencies and samples one point per tick. */
export class LiveSampler {
  private readonly samples = new Float64Array(TICK_SAMPLES);
  private seen = 0;
  private readonly t: number[] = [];
  private readonly rate: number[] = [];
  private readonly p50: (number | null)[] = [];
  private readonly p99: (number | null)[] = [];

  /**
   * @param random uniform [0, 1) for reservoir sampling (seeded in tests)
   * @param capacity ticks kept
   */
  constructor(
    private readonly random: () => number = Math.random,
    private readonly capacity = LIVE_POINTS,
  ) {}

  /** One client request finished after `seconds`. */
  observe(seconds: number): void {
    const ms = seconds * 1000;
    if (this.seen < TICK_SAMPLES) this.samples[this.seen] = ms;
    else {
      const slot = Math.floor(this.random() * (this.seen + 1));
      if (slot < TICK_SAMPLES) this.samples[slot] = ms;
    }
    this.seen++;
  }

  /** A batch of finished requests: their reads and writes, as observe() each. */
  observeTimes(times: RequestTimes): void {
    for (let i = 0; i < times.count; i++) if (times.ops[i]! <= OP_WRITE) this.observe(times.seconds[i]!);
  }

  /** Close the tick at `nowMs` with the scanner's current rate. */
  tick(nowMs: number, scanBytesPerSecond: number): void {
    const n = Math.min(this.seen, TICK_SAMPLES);
    const sorted = this.samples.slice(0, n).sort();
    this.seen = 0;
    this.t.push(Math.round(nowMs / 1000));
    this.rate.push(scanBytesPerSecond);
    this.p50.push(n > 0 ? Math.round(quantile(sorted, 0.5) * 1000) / 1000 : null);
    this.p99.push(n > 0 ? Math.round(quantile(sorted, 0.99) * 1000) / 1000 : null);
    if (this.t.length > this.capacity) {
      for (const column of [this.t, this.rate, this.p50, this.p99]) column.shift();
    }
  }

  /** The ticks kept, oldest first. */
  series(): LiveSeries {
    return {
      t: [...this.t],
      scanBytesPerSecond: [...this.rate],
      latencyP50Ms: [...this.p50],
      latencyP99Ms: [...this.p99],
    };
  }
}
