// Test-only virtual time for the remap layer: sleeps advance the clock at once (so retry budgets
// cost no real time), timers fire when time passes them, jitter comes from a seeded PRNG.
import { Prng } from "../../block/prng.js";
import type { RemapClock } from "../remap-clock.js";

interface Timer {
  readonly atMs: number;
  readonly fn: () => void;
}

/** A RemapClock whose time moves only by sleep() and advance(). */
export class VirtualClock implements RemapClock {
  private nowMs = 0;
  private timers = new Set<Timer>();
  private readonly prng: Prng;

  constructor(seed = 1) {
    this.prng = new Prng(seed);
  }

  now(): number {
    return this.nowMs;
  }

  /** Advance by `ms` (firing due timers), then resolve on a later turn of the event loop. */
  async sleep(ms: number): Promise<void> {
    this.advance(ms);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }

  setTimer(ms: number, fn: () => void): () => void {
    const timer: Timer = { atMs: this.nowMs + ms, fn };
    this.timers.add(timer);
    return () => this.timers.delete(timer);
  }

  random(): number {
    return this.prng.next();
  }

  /** Move time forward by `ms`, firing every timer that falls due, in time order. */
  advance(ms: number): void {
    this.nowMs += ms;
    const due = [...this.timers].filter((t) => t.atMs <= this.nowMs).sort((a, b) => a.atMs - b.atMs);
    for (const t of due) {
      this.timers.delete(t);
      t.fn();
    }
  }

  /** Timers not yet fired. */
  get pendingTimers(): number {
    return this.timers.size;
  }
}
