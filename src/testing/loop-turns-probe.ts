// Test support: what a job looked like at each event-loop turn while it ran. A job whose every step
// completes synchronously (memory devices) and that gives no turns of its own shows none.

/** Calls `sample` at every event-loop turn until `until` settles; resolves with the samples. */
export async function samplesAtTurns<T>(until: Promise<unknown>, sample: () => T): Promise<T[]> {
  const samples: T[] = [];
  let ended = false;
  const tick = (): void => {
    if (ended) return;
    samples.push(sample());
    setImmediate(tick);
  };
  setImmediate(tick);
  try {
    await until;
  } finally {
    ended = true;
  }
  return samples;
}
