import { test } from "node:test";
import assert from "node:assert/strict";
import { IntervalSet } from "./interval-set.js";
import { Neighbourhoods } from "./neighbourhoods.js";

test("interval set merges touching ranges and answers coverage", () => {
  const set = new IntervalSet();
  set.add(10, 20);
  set.add(30, 40);
  set.add(20, 30);
  assert.equal(set.size, 1);
  assert.ok(set.covers(12, 38));
  assert.ok(!set.covers(5, 12));
  set.add(50, 60);
  assert.ok(!set.covers(35, 55));
});

test("neighbourhood rings: nearest first across errors, each block once, within the radius", () => {
  const bs = 4096;
  const hoods = new Neighbourhoods(100_000, bs, 16 << 20); // radius 4096 blocks
  assert.ok(hoods.add(50_000));
  assert.ok(!hoods.add(50_100), "inside a queued neighbourhood: nothing new");
  assert.ok(hoods.add(10_000));
  const first = [hoods.next(64)!, hoods.next(64)!];
  assert.deepEqual(
    first.map((r) => r.firstBlock),
    [50_001, 50_065],
    "the innermost ring of the first error starts right after it",
  );
  const seen = new Set<number>();
  let firstOuterAt = -1;
  let n = 0;
  for (const r of first) for (let b = r.firstBlock; b < r.firstBlock + r.countBlocks; b++) seen.add(b);
  for (let r = hoods.next(64); r; r = hoods.next(64), n++) {
    for (let b = r.firstBlock; b < r.firstBlock + r.countBlocks; b++) {
      assert.ok(!seen.has(b), `block ${b} twice`);
      seen.add(b);
    }
    if (firstOuterAt < 0 && Math.abs(r.firstBlock - 50_000) > 256 && Math.abs(r.firstBlock - 10_000) > 256)
      firstOuterAt = n;
  }
  assert.equal(seen.size, 2 * 2 * 4096, "both neighbourhoods, whole");
  assert.ok(firstOuterAt > 0, "both inner rings come before any outer ring");
  hoods.done({ firstBlock: 49_000, countBlocks: 2000 });
  assert.ok(hoods.covers({ firstBlock: 49_500, countBlocks: 128 }));
});
