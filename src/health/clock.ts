// Time for the health services, injectable: the system clock in the daemon, a manual clock in tests
// and time-compressed demos (months of forecast history in seconds).

/** Wall-clock time in milliseconds since the epoch, and a way to wait on it. */
export interface Clock {
  now(): number;
  /** Resolve after `ms` of this clock's time, or early (without error) when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** Longest delay setTimeout accepts. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** The real clock (Date.now, setTimeout). */
export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve) => {
      if (signal?.aborted || ms <= 0) return resolve();
      // setTimeout holds at most 2^31-1 ms (about 24.8 days); longer sleeps wait in steps.
      const until = Date.now() + ms;
      let timer: ReturnType<typeof setTimeout>;
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      const step = () => {
        const left = until - Date.now();
        if (left <= 0) return done();
        timer = setTimeout(step, Math.min(left, MAX_TIMEOUT_MS));
      };
      step();
      signal?.addEventListener("abort", done, { once: true });
    }),
};

/** A clock that only moves when told to; sleepers wake when `advance` passes their deadline. */
export class ManualClock implements Clock {
  private sleepers: { until: number; resolve(): void }[] = [];

  constructor(private nowMs = 0) {}

  now(): number {
    return this.nowMs;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (ms <= 0 || signal?.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const entry = { until: this.nowMs + ms, resolve };
      this.sleepers.push(entry);
      signal?.addEventListener(
        "abort",
        () => {
          this.sleepers = this.sleepers.filter((s) => s !== entry);
          resolve();
        },
        { once: true },
      );
    });
  }

  /** Move time forward by `ms` and wake every sleeper whose deadline has passed. */
  advance(ms: number): void {
    this.nowMs += ms;
    const due = this.sleepers.filter((s) => s.until <= this.nowMs);
    this.sleepers = this.sleepers.filter((s) => s.until > this.nowMs);
    for (const s of due) s.resolve();
  }

  /** Number of pending sleeps (tests wait for the service to reach a sleep). */
  get sleeping(): number {
    return this.sleepers.length;
  }
}
