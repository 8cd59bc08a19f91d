// Unit tests of RemapTable against a Map model (seeded), plus range queries and snapshots.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Prng } from "../block/prng.js";
import { RemapTable } from "./remap-table.js";

function modelFirstInRange(model: Map<number, number>, start: number, end: number): number {
  let best = -1;
  for (const k of model.keys()) if (k >= start && k < end && (best < 0 || k < best)) best = k;
  return best;
}

test("empty table: get misses, firstInRange is -1, snapshot empty", () => {
  const t = new RemapTable();
  assert.equal(t.size, 0);
  assert.equal(t.get(5), -1);
  assert.equal(t.firstInRange(0, Number.MAX_SAFE_INTEGER), -1);
  assert.equal(t.toSnapshot().blocks.length, 0);
  assert.equal(t.delete(5), false);
});

test("random set/delete/get/firstInRange agree with a Map model across merges", () => {
  const rng = new Prng(42);
  const t = new RemapTable(8);
  const model = new Map<number, number>();
  for (let i = 0; i < 5000; i++) {
    const block = rng.nextInt(400);
    const r = rng.next();
    if (r < 0.5) {
      const v = rng.nextInt(1000);
      t.set(block, v);
      model.set(block, v);
    } else if (r < 0.8) {
      assert.equal(t.delete(block), model.delete(block));
    } else {
      const start = rng.nextInt(400);
      const end = start + rng.nextInt(50);
      assert.equal(
        t.firstInRange(start, end),
        modelFirstInRange(model, start, end),
        `range ${start}..${end}`,
      );
    }
    assert.equal(t.get(block), model.get(block) ?? -1);
    assert.equal(t.size, model.size);
  }
  const snap = t.toSnapshot();
  const keys = [...model.keys()].sort((a, b) => a - b);
  assert.deepEqual([...snap.blocks], keys);
  assert.deepEqual(
    [...snap.slots],
    keys.map((k) => model.get(k)),
  );
});

test("fromSorted validates order and values; forEach visits in order from a start", () => {
  assert.throws(() => RemapTable.fromSorted(Float64Array.of(3, 2), Uint32Array.of(1, 2)), /not sorted/);
  assert.throws(() => RemapTable.fromSorted(Float64Array.of(1), Uint32Array.of()), /slots/);
  const t = RemapTable.fromSorted(Float64Array.of(1, 5, 2 ** 40), Uint32Array.of(7, 8, 9));
  assert.equal(t.get(2 ** 40), 9);
  const seen: number[] = [];
  t.forEach((b) => {
    seen.push(b);
  }, 2);
  assert.deepEqual(seen, [5, 2 ** 40]);
  assert.throws(() => t.set(1, 0xffffffff), /out of range/);
});

test("100k entries stay under 32 bytes per entry", () => {
  const t = new RemapTable();
  const rng = new Prng(7);
  while (t.size < 100_000) t.set(rng.nextInt(1e9), t.size);
  assert.ok(t.byteLength / t.size <= 32, `${t.byteLength / t.size} bytes per entry`);
});

test("the delta filter: blocks sharing a filter bit, large blocks and deleted ones answer like a Map", () => {
  const rng = new Prng(7);
  // Blocks that agree in their low 16 bits (one filter bit), some past 2^32, in a delta that holds
  // up to 64 entries between merges: every single-block query must still search where it has to.
  const bases = [3, 65_539, 2 ** 32 + 3, 2 ** 40 + 3, 11, 2 ** 33 + 11, 2 ** 52 + 11];
  const t = new RemapTable(64);
  const model = new Map<number, number>();
  for (let i = 0; i < 20_000; i++) {
    const block = bases[rng.nextInt(bases.length)]! + (rng.next() < 0.3 ? 65_536 * rng.nextInt(4) : 0);
    const r = rng.next();
    if (r < 0.4) {
      const v = rng.nextInt(1000);
      t.set(block, v);
      model.set(block, v);
    } else if (r < 0.6) {
      assert.equal(t.delete(block), model.delete(block));
    } else {
      assert.equal(t.get(block), model.get(block) ?? -1, `get(${block}) at step ${i}`);
      assert.equal(t.firstInRange(block, block + 1), model.has(block) ? block : -1, `block ${block}`);
      assert.equal(t.firstInRange(block + 1, block + 2), model.has(block + 1) ? block + 1 : -1);
    }
  }
  assert.equal(t.size, model.size);
});

test("the main filter: single-block queries of present, absent, deleted and revived blocks answer like a Map", () => {
  const rng = new Prng(11);
  const t = new RemapTable(256);
  const model = new Map<number, number>();
  // Spread-out blocks, some past 2^32 and near 2^53 (the hash folds both halves), merged many times.
  const pick = (): number => {
    const r = rng.next();
    if (r < 0.6) return rng.nextInt(1 << 22);
    if (r < 0.8) return 2 ** 32 + rng.nextInt(1 << 22);
    return 2 ** 52 + rng.nextInt(1 << 22);
  };
  for (let i = 0; i < 20_000; i++) {
    const block = pick();
    t.set(block, i);
    model.set(block, i);
  }
  const check = (label: string): void => {
    for (const [block, value] of model) {
      assert.equal(t.get(block), value, `${label}: get(${block})`);
      assert.equal(t.firstInRange(block, block + 1), block, `${label}: firstInRange(${block})`);
    }
    for (let i = 0; i < 20_000; i++) {
      const block = pick();
      assert.equal(t.get(block), model.get(block) ?? -1, `${label}: get(${block}) of a random block`);
      assert.equal(t.firstInRange(block, block + 1), model.has(block) ? block : -1, `${label}: ${block}`);
    }
  };
  check("after inserts");
  // Deleting leaves tombstones (and stale filter bits) until a merge; setting again revives them.
  const keys = [...model.keys()];
  for (let i = 0; i < keys.length; i += 2) {
    assert.equal(t.delete(keys[i]!), true);
    model.delete(keys[i]!);
  }
  check("after deletes");
  for (let i = 0; i < keys.length; i += 4) {
    t.set(keys[i]!, 7);
    model.set(keys[i]!, 7);
  }
  check("after revivals");
  const rebuilt = RemapTable.fromSorted(t.toSnapshot().blocks, t.toSnapshot().slots);
  for (const [block, value] of model) assert.equal(rebuilt.get(block), value);
  assert.equal(rebuilt.firstInRange(2 ** 53 - 2, 2 ** 53 - 1), -1);
});
