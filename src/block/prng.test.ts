// Unit tests of the seeded PRNG: reproducible, seed-dependent, roughly uniform.
import assert from "node:assert/strict";
import { it } from "node:test";
import { Prng } from "./prng.js";

it("same seed gives the same sequence, another seed a different one", () => {
  const take = (seed: number) =>
    Array.from(
      { length: 100 },
      (
        (p) => () =>
          p.nextUint32()
      )(new Prng(seed)),
    );
  assert.deepEqual(take(42), take(42));
  assert.notDeepEqual(take(42), take(43));
  assert.equal(new Prng(1).nextUint32(), new Prng(1).nextUint32());
});

it("next() stays in [0, 1) and nextInt covers its range about evenly", () => {
  const prng = new Prng(7);
  const buckets = new Array<number>(10).fill(0);
  for (let i = 0; i < 10_000; i++) {
    const v = prng.next();
    assert.ok(v >= 0 && v < 1);
    buckets[prng.nextInt(10)]!++;
  }
  for (const n of buckets) assert.ok(n > 850 && n < 1150, `bucket count ${n}`);
});

it("fill() writes every byte, including a tail shorter than 4", () => {
  const a = new Prng(3).fill(new Uint8Array(7));
  const b = new Prng(3).fill(new Uint8Array(7));
  assert.deepEqual(a, b);
  assert.ok(a.some((x) => x !== 0));
  assert.throws(() => new Prng(1.5), /seed 1.5 is not an integer/);
});
