// Unit tests of lost-sector masks: bit layout (LSB-first), coverage rules, counting.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  anyLostIn,
  clearCovered,
  countLost,
  emptyMask,
  isEmptyMask,
  setLost,
  uncoveredMask,
} from "./lost-sectors.js";

test("masks use one bit per 512-byte sector, LSB first", () => {
  const mask = emptyMask(65536);
  assert.equal(mask.length, 16);
  setLost(mask, 0, true);
  setLost(mask, 9, true);
  assert.deepEqual([...mask.subarray(0, 2)], [0b1, 0b10]);
  assert.equal(countLost(mask), 2);
  assert.equal(emptyMask(1024).length, 1);
});

test("only fully covered sectors are cleared; partial ones stay lost", () => {
  const all = uncoveredMask(4096, 0, 0);
  assert.equal(countLost(all), 8);
  const partial = uncoveredMask(4096, 100, 1000); // covers sector 1 (512..1023) fully, 0 and 2 partly
  assert.equal(countLost(partial), 7);
  assert.equal(anyLostIn(partial, 512, 512), false);
  assert.equal(anyLostIn(partial, 1000, 30), true);
  const cleared = clearCovered(partial, 0, 4096);
  assert.equal(isEmptyMask(cleared), true);
  assert.equal(countLost(partial), 7, "clearCovered copies");
});
