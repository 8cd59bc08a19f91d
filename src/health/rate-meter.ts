// Bytes per second over the last few seconds of an injectable clock (scan progress and ETA).
import type { Clock } from "./clock.js";

const WINDOW_MS = 10_000;
const MAX_POINTS = 256;

/** Sliding-window throughput meter. */
export class RateMeter {
  private points: { at: number; total: number }[] = [];
  private total = 0;

  constructor(private readonly clock: Clock) {}

  /** `bytes` more were transferred now. */
  add(bytes: number): void {
    this.total += bytes;
    const at = this.clock.now();
    const last = this.points.at(-1);
    if (last && last.at === at) last.total = this.total;
    else this.points.push({ at, total: this.total });
    while (this.points.length > MAX_POINTS || (this.points.length > 2 && at - this.points[0]!.at > WINDOW_MS))
      this.points.shift();
  }

  /** Recent throughput; 0 when unknown (no time has passed, or nothing for a whole window). */
  bytesPerSecond(): number {
    const first = this.points[0];
    const last = this.points.at(-1);
    if (!first || !last) return 0;
    const now = this.clock.now();
    if (now - last.at > WINDOW_MS) return 0;
    const span = Math.max(now, last.at) - first.at;
    return span > 0 ? ((last.total - first.total) / span) * 1000 : 0;
  }
}
