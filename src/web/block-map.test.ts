// Tests of the block map aggregation: counts per cell, zoom to single blocks, a 16 TiB device, bad queries.
import { test } from "node:test";
import assert from "node:assert/strict";
import { buildBlockMap, MAX_CELLS, type BlockMapSource, type MappedRemap } from "./block-map.js";

function source(
  remapped: MappedRemap[],
  pending: number[],
  extra: Partial<BlockMapSource> = {},
): BlockMapSource {
  return {
    blockCount: 1000,
    blockSize: 4096,
    remapped: (from, to) => remapped.filter((r) => r.block >= from && r.block < to),
    pending: (from, to) => pending.filter((b) => b >= from && b < to),
    suspects: [],
    ...extra,
  };
}

test("cells count remapped, lost, pending and suspect blocks of their range", () => {
  const map = buildBlockMap(
    source(
      [
        { block: 5, lostSectors: 0 },
        { block: 9, lostSectors: 2 },
        { block: 990, lostSectors: 0 },
      ],
      [15, 999],
      { suspects: [{ firstBlock: 18, countBlocks: 4 }] },
    ),
    { fromBlock: 0, toBlock: 1000, cells: 100 },
  );
  assert.equal(map.blocksPerCell, 10);
  assert.equal(map.cellCount, 100);
  assert.deepEqual(map.remapped, [
    [0, 2],
    [99, 1],
  ]);
  assert.deepEqual(map.lost, [[0, 1]]);
  assert.deepEqual(map.pending, [
    [1, 1],
    [99, 1],
  ]);
  assert.deepEqual(map.suspect, [
    [1, 2],
    [2, 2],
  ]);
  assert.deepEqual(map.totals, { remapped: 3, pending: 2, lost: 1, suspect: 4 });
  assert.equal(map.scanKnown, false);
  assert.deepEqual(map.scanned, []);
});

test("a zoomed range down to single blocks, with scanned runs", () => {
  const map = buildBlockMap(
    source([{ block: 503, lostSectors: 0 }], [], {
      scan: {
        state: "scanning",
        cursorBlock: 0,
        scannedBlocks: 500,
        totalBlocks: 1000,
        lastPassComplete: false,
      },
    }),
    { fromBlock: 500, toBlock: 510, cells: 4096 },
  );
  assert.equal(map.blocksPerCell, 1);
  assert.equal(map.cellCount, 10);
  assert.deepEqual(map.remapped, [[3, 1]]);
  assert.deepEqual(map.scanned, [[0, 10, 0.5]], "without a geometry the pass's share is spread evenly");
});

test("a 16 TiB sparse device is mapped in time of its remaps, not its size", () => {
  const blockCount = 2 ** 32; // 16 TiB of 4 KiB blocks
  const remaps = Array.from({ length: 1000 }, (_, i) => ({ block: i * 4_000_000 + 7, lostSectors: 0 }));
  const map = buildBlockMap(
    {
      ...source(remaps, []),
      blockCount,
      scan: {
        state: "idle",
        cursorBlock: 0,
        scannedBlocks: 0,
        totalBlocks: blockCount,
        lastPassComplete: true,
      },
    },
    { fromBlock: 0, toBlock: blockCount, cells: MAX_CELLS },
  );
  assert.equal(map.totals.remapped, 1000);
  assert.equal(map.cellCount, MAX_CELLS);
  assert.deepEqual(map.scanned, [[0, MAX_CELLS, 1]]);
});

test("a bad range or cell count is refused", () => {
  assert.throws(
    () => buildBlockMap(source([], []), { fromBlock: 10, toBlock: 10, cells: 1 }),
    /block range 10\.\.10/,
  );
  assert.throws(
    () => buildBlockMap(source([], []), { fromBlock: 0, toBlock: 1001, cells: 1 }),
    /not inside 0\.\.1000/,
  );
  assert.throws(() => buildBlockMap(source([], []), { fromBlock: 0, toBlock: 10, cells: 0 }), /cell count 0/);
});
