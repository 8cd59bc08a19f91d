import { test } from "node:test";
import assert from "node:assert/strict";
import { SweepOrder } from "./sweep-order.js";

function allReads(order: SweepOrder) {
  const out = [];
  for (let p = 0; p < order.positions; p++) {
    const r = order.readAt(p);
    if (r) out.push(r);
  }
  return out;
}

test("a sweep covers every block exactly once, whatever the geometry", () => {
  for (const [blockCount, readBlocks, segmentReads, regions] of [
    [1000, 16, 4, 8],
    [1, 256, 4, 128],
    [257, 256, 4, 128],
    [100_003, 7, 3, 11],
  ] as const) {
    const order = new SweepOrder({ blockCount, readBlocks, segmentReads, regions });
    const seen = new Uint8Array(blockCount);
    for (const r of allReads(order)) for (let b = 0; b < r.countBlocks; b++) seen[r.firstBlock + b]! += 1;
    assert.ok(
      seen.every((n) => n === 1),
      `${blockCount}/${readBlocks}/${segmentReads}/${regions}`,
    );
  }
});

test("the first round samples every region before reading further into any", () => {
  const order = new SweepOrder({ blockCount: 64 * 16, readBlocks: 16, segmentReads: 2, regions: 8 });
  const firstRound = allReads(order).slice(0, 16);
  const regionsTouched = new Set(firstRound.map((r) => Math.floor(r.firstBlock / 128)));
  assert.equal(regionsTouched.size, 8);
  assert.deepEqual(
    firstRound.slice(0, 2).map((r) => r.firstBlock),
    [0, 16],
    "segments are sequential runs",
  );
});

test("geometry values must be positive integers", () => {
  assert.throws(
    () => new SweepOrder({ blockCount: 10, readBlocks: 0, segmentReads: 1, regions: 1 }),
    /readBlocks 0/,
  );
});
