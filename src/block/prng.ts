// A small seeded pseudo-random generator (mulberry32) for deterministic fault injection and tests.
// Same seed -> same sequence, on every platform; not for cryptography.

/** Deterministic 32-bit PRNG (mulberry32); `next()` is uniform in [0, 1). */
export class Prng {
  private state: number;

  constructor(readonly seed: number) {
    if (!Number.isSafeInteger(seed)) throw new RangeError(`PRNG seed ${seed} is not an integer`);
    this.state = seed >>> 0;
  }

  /** The next unsigned 32-bit integer. */
  nextUint32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** The next float in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** The next integer in [0, bound). */
  nextInt(bound: number): number {
    return Math.floor(this.next() * bound);
  }

  /** Fill `target` with pseudo-random bytes. */
  fill(target: Uint8Array): Uint8Array {
    for (let i = 0; i < target.length; i += 4) {
      const v = this.nextUint32();
      target[i] = v & 0xff;
      if (i + 1 < target.length) target[i + 1] = (v >>> 8) & 0xff;
      if (i + 2 < target.length) target[i + 2] = (v >>> 16) & 0xff;
      if (i + 3 < target.length) target[i + 3] = v >>> 24;
    }
    return target;
  }
}
