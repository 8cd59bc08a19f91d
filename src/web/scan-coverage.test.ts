// Tests of scan coverage against a replay of the staggered sweep, and the idle / geometry-less cases.
import { test } from "node:test";
import assert from "node:assert/strict";
import { SweepOrder, type SweepGeometry } from "../health/sweep-order.js";
import { scannedBlocksIn, type ScanCoverage } from "./scan-coverage.js";

/** Brute force: replay the sweep up to the cursor position and count blocks read in [a, b). */
function bruteForce(g: SweepGeometry, positionsDone: number, a: number, b: number): number {
  const order = new SweepOrder(g);
  const read = new Uint8Array(g.blockCount);
  for (let p = 0; p < positionsDone; p++) {
    const r = order.readAt(p);
    if (r) read.fill(1, r.firstBlock, r.firstBlock + r.countBlocks);
  }
  let n = 0;
  for (let i = a; i < b; i++) n += read[i]!;
  return n;
}

function cursorAt(g: SweepGeometry, position: number): number {
  const order = new SweepOrder(g);
  for (let p = position; p < order.positions; p++) {
    const r = order.readAt(p);
    if (r) return r.firstBlock;
  }
  return g.blockCount;
}

test("scanned blocks of any range match a replay of the staggered sweep", () => {
  const geometries: SweepGeometry[] = [
    { blockCount: 1000, readBlocks: 8, segmentReads: 2, regions: 7 },
    { blockCount: 4096, readBlocks: 16, segmentReads: 1, regions: 32 },
    { blockCount: 777, readBlocks: 5, segmentReads: 3, regions: 1 },
  ];
  for (const g of geometries) {
    const positions = new SweepOrder(g).positions;
    for (const done of [0, 1, 5, Math.floor(positions / 3), positions - 1]) {
      const scan: ScanCoverage = {
        state: "scanning",
        cursorBlock: cursorAt(g, done),
        scannedBlocks: 0,
        totalBlocks: g.blockCount,
        lastPassComplete: false,
        geometry: g,
      };
      for (const [a, b] of [
        [0, g.blockCount],
        [3, 97],
        [100, 613],
        [g.blockCount - 50, g.blockCount],
      ] as const) {
        assert.equal(
          scannedBlocksIn(scan, a, b),
          bruteForce(g, done, a, b),
          `${JSON.stringify(g)} done ${done} [${a}, ${b})`,
        );
      }
    }
  }
});

test("idle, finished and geometry-less scans", () => {
  const base = { cursorBlock: 0, scannedBlocks: 250, totalBlocks: 1000 } as const;
  assert.equal(scannedBlocksIn({ ...base, state: "idle", lastPassComplete: true }, 10, 20), 10);
  assert.equal(scannedBlocksIn({ ...base, state: "idle", lastPassComplete: false }, 10, 20), 0);
  assert.equal(scannedBlocksIn({ ...base, state: "scanning", lastPassComplete: false }, 0, 100), 25);
  assert.equal(
    scannedBlocksIn({ ...base, state: "paused", cursorBlock: 1000, lastPassComplete: false }, 0, 1000),
    1000,
  );
  assert.equal(scannedBlocksIn({ ...base, state: "scanning", lastPassComplete: false }, 1000, 2000), 0);
});
