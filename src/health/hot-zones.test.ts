import { test } from "node:test";
import assert from "node:assert/strict";
import { HotZones } from "./hot-zones.js";

const OPTIONS = { blockCount: 100_000, minPadBlocks: 16, maxPadBlocks: 4096, share: 0.5 };

/** Every re-read run of one round, once the round is paid for. */
function round(z: HotZones, maxBlocks = 1 << 30): [number, number][] {
  const runs: [number, number][] = [];
  for (let run = z.next(maxBlocks); run; run = z.next(maxBlocks))
    runs.push([run.firstBlock, run.countBlocks]);
  return runs;
}

test("nothing is re-read before an error is known, and a round waits until the share paid for it", () => {
  const z = new HotZones(OPTIONS);
  z.earn(1000);
  assert.equal(z.next(8), undefined, "no known error: no re-reads, no credit");
  z.add(500);
  assert.equal(z.roundBlocks(), 33, "16 blocks on each side of the error, and the error");
  z.earn(32);
  assert.equal(z.next(8), undefined, "32 blocks read at share 1/2 pay 32 blocks: not yet a round");
  z.earn(1);
  assert.deepEqual(round(z, 16), [
    [484, 16],
    [500, 16],
    [516, 1],
  ]);
  assert.equal(z.next(16), undefined, "the round is spent");
});

test("the zone width follows how far new errors appear from known ones; neighbours merge", () => {
  const z = new HotZones(OPTIONS);
  z.add(10_000);
  z.add(10_100);
  z.add(10_300);
  // Distances 100 and 200 to the nearest known error: 1.5 x p90 = 300 blocks on each side.
  assert.equal(z.padBlocks, 300);
  z.earn(1_000_000);
  assert.deepEqual(round(z), [[9700, 10_601 - 9700]]);
  z.add(90_000);
  assert.equal(z.padBlocks, 300, "an error far from all others starts a zone, and teaches no width");
  assert.equal(z.size, 4);
});

test("a share of 0 turns re-reads off; the record restores the zones", () => {
  const off = new HotZones({ ...OPTIONS, share: 0 });
  off.add(5);
  off.earn(1_000_000);
  assert.equal(off.next(8), undefined);
  assert.equal(off.size, 0);
  const z = new HotZones(OPTIONS);
  z.add(100);
  z.add(140);
  const again = new HotZones(OPTIONS);
  again.load(z.record());
  assert.equal(again.size, 2);
  assert.equal(again.padBlocks, z.padBlocks);
  again.load({ known: [-1, 7, 1e12], gaps: [3] });
  assert.equal(again.size, 1, "blocks outside the device are dropped");
});

test("memory is bounded: the oldest known errors give way", () => {
  const z = new HotZones(OPTIONS);
  for (let b = 0; b < 5000; b++) z.add(b * 10);
  assert.equal(z.size, 1024);
});
