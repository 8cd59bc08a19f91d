import { test } from "node:test";
import assert from "node:assert/strict";
import { MemoryDevice } from "../block/memory-device.js";
import type { JournalRecord } from "./metadata-store.js";
import { createSet } from "./create-set.js";
import { openSet } from "./open-set.js";

const ENTRIES = 1_000_000;

test("a table of 1M remapped blocks checkpoints and reopens", async (t) => {
  const blockSize = 4096;
  const main = new MemoryDevice({ sizeBytes: ENTRIES * blockSize });
  const spares = [0, 1].map(() => new MemoryDevice({ sizeBytes: (ENTRIES / 2 + 32768) * blockSize }));
  const { store } = await createSet({ main, spares, blockSize, name: "big" });
  const records = Array.from({ length: ENTRIES }, (_, i): JournalRecord => ({
    type: "remap",
    block: ENTRIES - 1 - i,
    slot: i,
    reason: "write-error",
  }));
  let started = performance.now();
  await store.append(records);
  t.diagnostic(
    `append of 1M records (committed as a checkpoint): ${(performance.now() - started).toFixed(0)} ms`,
  );
  await store.append([
    { type: "unremap", block: 5 },
    { type: "pending", block: 5 },
  ]);
  started = performance.now();
  await store.checkpoint({
    blocks: new Float64Array(0),
    slots: new Uint32Array(0),
    pending: new Float64Array(0),
    lost: new Map(),
    counters: { n: 1 },
  });
  t.diagnostic(`checkpoint with 1M entries: ${(performance.now() - started).toFixed(0)} ms`);
  await store.append([{ type: "unremap", block: 6 }]);
  await store.close();
  started = performance.now();
  const opened = await openSet({ spares, main });
  t.diagnostic(`open with 1M entries (2 copies): ${(performance.now() - started).toFixed(0)} ms`);
  const s = opened.snapshot;
  assert.equal(s.blocks.length, ENTRIES - 2);
  assert.deepEqual(Array.from(s.blocks.subarray(0, 6)), [0, 1, 2, 3, 4, 7]);
  assert.equal(s.slots[0], ENTRIES - 1);
  assert.equal(s.slots[5], ENTRIES - 1 - 7);
  assert.deepEqual(Array.from(s.pending), [5]);
  assert.equal(s.counters.n, 1);
  assert.deepEqual(opened.notes, []);
});
