// Pacing of the scanner: a bandwidth cap (token bucket, like md's sync_speed_max) and an adaptive
// controller that keeps the foreground p99 latency within a budget over its own baseline. The
// baseline is measured in short probe windows during which the scanner holds off.
//
// The controller is AIMD and starts cautious: the moment foreground requests show up (a completion
// within the last `busyMs`), an unlimited scanner drops to a small rate at queue depth 1 without
// waiting for a window to close; a window whose p99 is over budget halves the rate (down to one read
// every two seconds) and the depth; a window within budget adds a fixed step. Only a window without
// any foreground request lets the scanner run at full speed again.
import { OP_WRITE, type RequestTimes } from "../core/request-times.js";
import type { Clock } from "./clock.js";
import { LatencyHistogram } from "./latency-histogram.js";

/** Settings of the pacer. */
export interface PacerOptions {
  /** Bandwidth cap in bytes per second; 0 = none. */
  readonly rateBytesPerSecond: number;
  /** Allowed foreground p99 increase over baseline, as a fraction (0.1 = +10 %). */
  readonly latencyBudget: number;
  /** Most concurrent scanner reads (1-4). */
  readonly maxQueueDepth: number;
  /** Length of one control window. */
  readonly windowMs?: number;
  /** Every this many windows with foreground traffic, one probe window measures the baseline. */
  readonly probeEvery?: number;
  /** Foreground requests a window needs before its p99 means anything. */
  readonly minSamples?: number;
  /** A foreground completion this recent means the foreground is busy (default 50 ms). */
  readonly busyMs?: number;
  /** Rate an unlimited scanner drops to when foreground requests appear (default 4 MiB/s). */
  readonly busyStartBytesPerSecond?: number;
  /** Additive increase per window within budget (default 2 MiB/s). */
  readonly growStepBytesPerSecond?: number;
  readonly clock: Clock;
}

/** What the controller currently allows (status view). */
export interface PacerStatus {
  readonly allowedBytesPerSecond: number | null;
  readonly queueDepth: number;
  readonly foregroundP99Ms: number | null;
  readonly baselineP99Ms: number | null;
  readonly throttled: boolean;
  readonly probing: boolean;
}

/** Floor of the adaptive limit: one 1 MiB scanner read every two seconds. */
const MIN_RATE = 512 << 10;
/** Above this the adaptive limit no longer binds anything a device delivers. */
const UNBOUNDED_RATE = 64 * 2 ** 30;

/** Decides how fast and how deep the scanner may read. */
export class Pacer {
  private readonly windowMs: number;
  private readonly probeEvery: number;
  private readonly minSamples: number;
  private readonly busyMs: number;
  private readonly busyStart: number;
  private readonly growStep: number;
  private lastForegroundAt = -Infinity;
  private readonly window = new LatencyHistogram();
  private windowStart: number;
  private windowScanBytes = 0;
  private windowsSinceProbe = 0;
  private probing = false;
  private baselineMs: number | undefined;
  private lastP99Ms: number | undefined;
  /** Adaptive limit in bytes/s; Infinity when foreground latency does not constrain us. */
  private allowed = Infinity;
  private depth: number;
  private nextFreeAt = 0;

  constructor(private readonly options: PacerOptions) {
    const { rateBytesPerSecond, latencyBudget, maxQueueDepth } = options;
    if (!(rateBytesPerSecond >= 0)) throw new RangeError(`scan rate ${rateBytesPerSecond} is negative`);
    if (!(latencyBudget > 0)) throw new RangeError(`latency budget ${latencyBudget} is not positive`);
    if (!Number.isInteger(maxQueueDepth) || maxQueueDepth < 1 || maxQueueDepth > 4)
      throw new RangeError(`scan queue depth ${maxQueueDepth} is not in 1..4`);
    this.windowMs = options.windowMs ?? 1000;
    this.probeEvery = options.probeEvery ?? 10;
    this.minSamples = options.minSamples ?? 20;
    this.busyMs = options.busyMs ?? 50;
    this.busyStart = options.busyStartBytesPerSecond ?? 4 << 20;
    this.growStep = options.growStepBytesPerSecond ?? 2 << 20;
    this.depth = maxQueueDepth;
    this.windowStart = options.clock.now();
  }

  /** One completed foreground request took `ms`. */
  observeForeground(ms: number): void {
    this.window.observe(ms);
    this.lastForegroundAt = this.options.clock.now();
  }

  /** A batch of completed requests: its reads and writes are foreground requests (one clock read). */
  observeForegroundTimes(times: RequestTimes): void {
    let seen = false;
    for (let i = 0; i < times.count; i++) {
      if (times.ops[i]! > OP_WRITE) continue;
      this.window.observe(times.seconds[i]! * 1000);
      seen = true;
    }
    if (seen) this.lastForegroundAt = this.options.clock.now();
  }

  /** Whether a foreground request completed within the last `busyMs`. */
  private foregroundBusy(now: number): boolean {
    return now - this.lastForegroundAt < this.busyMs;
  }

  /** Concurrent scanner reads allowed now. */
  get queueDepth(): number {
    return this.depth;
  }

  /** Wait until the scanner may read `bytes` more (bandwidth cap, adaptive limit, probe windows). */
  async admit(bytes: number, signal?: AbortSignal): Promise<void> {
    const clock = this.options.clock;
    for (;;) {
      if (signal?.aborted) return;
      this.tick();
      if (this.probing) {
        await clock.sleep(this.windowStart + this.windowMs - clock.now(), signal);
        continue;
      }
      const now = clock.now();
      if (this.allowed === Infinity && this.foregroundBusy(now)) {
        // Foreground traffic appeared: back off at once instead of after a whole window.
        this.allowed = this.busyStart;
        this.depth = 1;
        this.nextFreeAt = now;
      }
      const rate = Math.min(this.options.rateBytesPerSecond || Infinity, this.allowed);
      if (rate === Infinity) {
        this.windowScanBytes += bytes;
        return;
      }
      if (this.nextFreeAt > now) {
        await clock.sleep(Math.min(this.nextFreeAt - now, this.windowMs), signal);
        continue;
      }
      this.nextFreeAt = Math.max(this.nextFreeAt, now - this.windowMs) + (bytes / rate) * 1000;
      this.windowScanBytes += bytes;
      return;
    }
  }

  /** Close the control window if it is over, and adjust the limits. */
  tick(): void {
    const now = this.options.clock.now();
    if (now - this.windowStart < this.windowMs) return;
    const elapsedMs = now - this.windowStart;
    const samples = this.window.count;
    const p99 = samples >= this.minSamples ? this.window.quantile(0.99) : undefined;
    const scanRate = (this.windowScanBytes / elapsedMs) * 1000;
    if (this.probing) {
      this.probing = false;
      if (p99 !== undefined)
        this.baselineMs = this.baselineMs === undefined ? p99 : 0.7 * this.baselineMs + 0.3 * p99;
    } else if (samples === 0 && !this.foregroundBusy(now)) {
      // No foreground traffic to protect: run as fast as the device and the cap allow.
      this.allowed = Infinity;
      this.depth = this.options.maxQueueDepth;
    } else if (p99 === undefined) {
      // A trickle of foreground requests: too few for a p99, so only grow slowly.
      this.grow();
    } else {
      this.lastP99Ms = p99;
      this.windowsSinceProbe++;
      if (this.baselineMs === undefined || this.windowsSinceProbe >= this.probeEvery) {
        this.windowsSinceProbe = 0;
        this.probing = true;
      } else if (p99 > this.baselineMs * (1 + this.options.latencyBudget)) {
        const base = this.allowed === Infinity ? Math.max(scanRate, MIN_RATE) : this.allowed;
        // Multiplicative decrease (the additive increase is in grow).
        this.allowed = Math.max(MIN_RATE, base / 2);
        this.depth = Math.max(1, this.depth - 1);
      } else {
        this.grow();
      }
    }
    if (p99 === undefined) this.lastP99Ms = undefined;
    this.window.clear();
    this.windowScanBytes = 0;
    this.windowStart = now;
  }

  private grow(): void {
    this.depth = Math.min(this.options.maxQueueDepth, this.depth + 1);
    if (this.allowed === Infinity) return;
    this.allowed += this.growStep;
    // Far above anything a device delivers: the limit no longer binds.
    if (this.allowed > UNBOUNDED_RATE) this.allowed = Infinity;
  }

  status(): PacerStatus {
    const cap = this.options.rateBytesPerSecond || Infinity;
    const rate = Math.min(cap, this.allowed);
    return {
      allowedBytesPerSecond: rate === Infinity ? null : Math.round(rate),
      queueDepth: this.depth,
      foregroundP99Ms: this.lastP99Ms ?? null,
      baselineP99Ms: this.baselineMs ?? null,
      throttled: this.allowed !== Infinity,
      probing: this.probing,
    };
  }
}
