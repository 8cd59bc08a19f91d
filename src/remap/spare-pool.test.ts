// Unit tests of SparePool: unique allocation, balance, exhaustion, per-spare usage, slot locations.
import { test } from "node:test";
import assert from "node:assert/strict";
import { NoSpaceError } from "../block/errors.js";
import type { SpareIdentity } from "../metadata/metadata-store.js";
import { SparePool } from "./spare-pool.js";

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
