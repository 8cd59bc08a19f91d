// Test support: seeded bytes, and a byte comparison whose failure names the first differing byte
// (assert.deepEqual of megabytes that differ spends minutes computing a diff).
import assert from "node:assert/strict";
import { Prng } from "../block/prng.js";

/** `length` bytes from a Prng seeded with `seed`. */
export function seeded(seed: number, length: number): Buffer {
  return new Prng(seed).fill(Buffer.alloc(length)) as Buffer;
}

/** `actual` holds exactly `expected`; a mismatch names its first byte (no diff of megabytes). */
export function sameBytes(actual: Uint8Array, expected: Uint8Array, what = "bytes"): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  if (Buffer.compare(actual, expected) === 0) return;
  let i = 0;
  while (actual[i] === expected[i]) i++;
  assert.fail(`${what}: first difference at byte ${i} of ${actual.length}: ${actual[i]} != ${expected[i]}`);
}
