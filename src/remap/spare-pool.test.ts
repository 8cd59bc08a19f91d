// Unit tests of SparePool: unique allocation, balance, exhaustion, per-spare usage, slot locations.
import { test } from "node:test";
import assert from "node:assert/strict";
import { NoSpaceError } from "../block/errors.js";
import type { SpareIdentity } from "../metadata/metadata-store.js";
import { SparePool, type SpareAllocation } from "./spare-pool.js";

const spares: SpareIdentity[] = [
  { uuid: "a", index: 0, sizeBytes: 0, dataOffsetBytes: 8192, slotCount: 40, firstSlot: 0 },
  { uuid: "b", index: 1, sizeBytes: 0, dataOffsetBytes: 4096, slotCount: 3, firstSlot: 40 },
];

test("every slot is handed out exactly once, then NoSpaceError", () => {
  const pool = new SparePool(spares, { name: "t", blockSize: 4096, nearlyExhaustedPercent: 10 });
  const seen = new Set<number>();
  for (let i = 0; i < 43; i++) {
    const slot = pool.allocate();
    assert.ok(!seen.has(slot));
    seen.add(slot);
    assert.equal(pool.usedSlots + pool.freeSlots, pool.totalSlots);
  }
  assert.throws(() => pool.allocate(), NoSpaceError);
  pool.release(17);
  assert.equal(pool.allocate(), 17);
  assert.throws(() => pool.markUsed(17), /twice/);
  assert.throws(() => pool.release(99), /outside/);
});

test("locations, per-spare usage and the nearly-exhausted threshold", () => {
  const pool = new SparePool(spares, { name: "t", blockSize: 4096, nearlyExhaustedPercent: 10 });
  assert.equal(pool.offsetOf(0), 8192);
  assert.equal(pool.offsetOf(39), 8192 + 39 * 4096);
  assert.equal(pool.spareIndexOf(40), 1);
  assert.equal(pool.offsetOf(41), 4096 + 4096);
  pool.markUsed(41);
  assert.deepEqual(
    pool.perSpare().map((s) => s.usedBlocks),
    [0, 1],
  );
  assert.equal(pool.nearlyExhausted, false);
  for (let i = 0; i < 38; i++) pool.allocate();
  assert.equal(pool.freeSlots, 4);
  assert.equal(pool.nearlyExhausted, true);
  pool.release(41);
  assert.throws(() => pool.release(41), /not in use/);
});

test("spare identities out of sequence are refused", () => {
  const bad = [{ ...spares[0]!, firstSlot: 1 }];
  assert.throws(
    () => new SparePool(bad, { name: "t", blockSize: 4096, nearlyExhaustedPercent: 10 }),
    /expected 0/,
  );
});

// Three spares of different sizes: 4, 2 and 3 slots (global slots 0-3, 4-5, 6-8).
const three: SpareIdentity[] = [
  { uuid: "a", index: 0, sizeBytes: 0, dataOffsetBytes: 4096, slotCount: 4, firstSlot: 0 },
  { uuid: "b", index: 1, sizeBytes: 0, dataOffsetBytes: 4096, slotCount: 2, firstSlot: 4 },
  { uuid: "c", index: 2, sizeBytes: 0, dataOffsetBytes: 4096, slotCount: 3, firstSlot: 6 },
];

function poolOf(allocation?: SpareAllocation): SparePool {
  return new SparePool(three, {
    name: "t",
    blockSize: 4096,
    nearlyExhaustedPercent: 10,
    ...(allocation ? { allocation } : {}),
  });
}

/** Spare index of each of `n` allocations. */
function order(pool: SparePool, n: number, avoid?: ReadonlySet<number>): number[] {
  return Array.from({ length: n }, () => pool.spareIndexOf(pool.allocate(avoid)));
}

test("fill-first (the default) fills spares in index order", () => {
  const pool = poolOf();
  assert.deepEqual(order(pool, 9), [0, 0, 0, 0, 1, 1, 2, 2, 2]);
  assert.deepEqual(
    [...Array(9).keys()].map((s) => pool.isUsed(s)),
    Array(9).fill(true),
  );
  assert.throws(() => pool.allocate(), NoSpaceError);
  assert.deepEqual(order(poolOf("fill-first"), 5), [0, 0, 0, 0, 1]);
});

test("round-robin takes the spares in turn, skipping full ones", () => {
  const pool = poolOf("round-robin");
  assert.deepEqual(order(pool, 9), [0, 1, 2, 0, 1, 2, 0, 2, 0]);
  assert.throws(() => pool.allocate(), NoSpaceError);
  pool.release(5);
  assert.equal(pool.allocate(), 5);
});

test("least-used picks the spare with fewest used slots, ties to the lowest index", () => {
  const pool = poolOf("least-used");
  pool.markUsed(0);
  pool.markUsed(1);
  assert.deepEqual(order(pool, 7), [1, 2, 1, 2, 0, 2, 0]);
  assert.throws(() => pool.allocate(), NoSpaceError);
  assert.deepEqual(
    pool.perSpare().map((s) => [s.usedBlocks, s.freeBlocks]),
    [
      [4, 0],
      [2, 0],
      [3, 0],
    ],
  );
});

test("every policy skips a quarantined spare; ENOSPC once the others are full", () => {
  for (const allocation of ["fill-first", "round-robin", "least-used"] as const) {
    const pool = poolOf(allocation);
    const avoid = new Set([1]);
    const got = order(pool, 7, avoid);
    assert.ok(!got.includes(1), `${allocation}: ${got.join(",")}`);
    assert.deepEqual([...got].sort(), [0, 0, 0, 0, 2, 2, 2], allocation);
    assert.throws(() => pool.allocate(avoid), NoSpaceError, allocation);
    assert.equal(pool.spareIndexOf(pool.allocate()), 1, allocation);
  }
  assert.deepEqual(order(poolOf("round-robin"), 4, new Set([0])), [1, 2, 1, 2]);
  assert.deepEqual(order(poolOf("least-used"), 3, new Set([0])), [1, 2, 1]);
});

test("per-spare usage counts quarantined slots", () => {
  const pool = poolOf("round-robin");
  const slot = pool.allocate();
  pool.noteQuarantined(slot);
  assert.deepEqual(
    pool.perSpare().map((s) => [s.usedBlocks, s.freeBlocks, s.quarantinedBlocks]),
    [
      [1, 3, 1],
      [0, 2, 0],
      [0, 3, 0],
    ],
  );
});

test("allocateMany hands out consecutive slots as allocate would, and only what is free outside avoid", () => {
  const pool = poolOf();
  assert.deepEqual(pool.allocateMany(3), [0, 1, 2]);
  // Spare 0 has one slot left, then fill-first goes on with spare 1 (spare 2 avoided).
  assert.deepEqual(pool.allocateMany(5, new Set([2])), [3, 4, 5]);
  assert.equal(pool.usedSlots, 6);
  assert.deepEqual(pool.allocateMany(0), []);
  assert.deepEqual(pool.allocateMany(9, new Set([0, 1])), [6, 7, 8]);
  assert.deepEqual(pool.allocateMany(1), [], "nothing left: no error, no slot");
  assert.equal(pool.usedSlots + pool.freeSlots, pool.totalSlots);
});

test("a removed middle spare keeps its slot numbers but is neither free nor capacity", () => {
  const three: SpareIdentity[] = [
    ...spares,
    { uuid: "c", index: 2, sizeBytes: 0, dataOffsetBytes: 4096, slotCount: 10, firstSlot: 43 },
  ];
  const pool = new SparePool(three, { name: "t", blockSize: 4096, nearlyExhaustedPercent: 10 });
  pool.markUsed(41);
  assert.throws(() => pool.retireSpare(1), /1 slots in use/);
  pool.release(41);
  pool.retireSpare(1);
  pool.retireSpare(1);
  assert.equal(pool.totalSlots, 53, "slot numbers unchanged");
  assert.equal(pool.capacitySlots, 50);
  assert.equal(pool.freeSlots, 50);
  assert.deepEqual(
    pool.perSpare().map((s) => [s.totalBlocks, s.freeBlocks]),
    [
      [40, 40],
      [0, 0],
      [10, 10],
    ],
  );
  const slots = new Set<number>();
  for (let i = 0; i < 50; i++) slots.add(pool.allocate());
  assert.ok(![40, 41, 42].some((slot) => slots.has(slot)), "no slot of the removed spare is handed out");
  assert.throws(() => pool.allocate(), NoSpaceError);
  assert.equal(pool.nearlyExhausted, true);
});

test("next-fit: slots come after the last one handed out before any freed behind it, then wrap", () => {
  const pool = new SparePool(spares, { name: "t", blockSize: 4096, nearlyExhaustedPercent: 10 });
  for (let i = 0; i < 10; i++) assert.equal(pool.allocate(), i);
  pool.release(3);
  // Free slots lie after the cursor (10..39): next-fit takes those first, across whole words.
  assert.deepEqual(
    pool.allocateMany(30),
    Array.from({ length: 30 }, (_, i) => 10 + i),
  );
  // Spare 0 is full but for slot 3 (behind the cursor): fill-first wraps around to it.
  assert.equal(pool.allocate(), 3);
  assert.equal(pool.allocate(), 40);
});
