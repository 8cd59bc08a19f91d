// Time source of the remap layer: a monotonic clock, sleeps, cancellable timers and the jitter PRNG.
// Injected so retries, deadlines and write timeouts are tested in virtual time, deterministically.
import { performance } from "node:perf_hooks";
import { Prng } from "../block/prng.js";

/** What the remap layer needs of time and chance. */
export interface RemapClock {
  /** Monotonic milliseconds. */
  now(): number;
  /** Resolve after `ms` milliseconds. */
  sleep(ms: number): Promise<void>;
  /** Call `fn` after `ms` milliseconds unless the returned cancel function runs first. */
  setTimer(ms: number, fn: () => void): () => void;
  /** Uniform in [0, 1), for retry jitter. */
  random(): number;
}

/** Real time; jitter from a PRNG seeded with `seed`. */
export function systemClock(seed = 1): RemapClock {
  const prng = new Prng(seed);
  return {
    now: () => performance.now(),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    setTimer(ms, fn) {
      const timer = setTimeout(fn, ms);
      timer.unref();
      return () => clearTimeout(timer);
    },
    random: () => prng.next(),
  };
}

/**
 * Delay before retry number `retry` (1-based): `firstMs` doubled each time, with +-25 % jitter,
 * capped at `remainingMs` so the last retry still fits in the budget.
 */
export function backoffDelayMs(
  clock: RemapClock,
  firstMs: number,
  retry: number,
  remainingMs: number,
): number {
  const base = firstMs * 2 ** Math.min(retry - 1, 20);
  const jittered = base * (0.75 + clock.random() * 0.5);
  return Math.max(0, Math.min(jittered, remainingMs));
}
