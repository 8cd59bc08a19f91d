// Block lists (badblocks output, e2fsck -l input): parsing, unit conversion, errors naming the line.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { listFromState, parseBlockList, rangesOfList } from "./block-list.js";
import { FormatSyntaxError } from "./errors.js";

describe("block lists", () => {
  it("reads one decimal number per line, ignores blank lines, sorts and drops duplicates", () => {
    assert.deepEqual(parseBlockList("12\n\n  3 \n12\n7\r\n"), [3, 7, 12]);
  });

  it("names the line of a bad entry", () => {
    assert.throws(
      () => parseBlockList("1\n2\n0x10\n", "bb.txt"),
      (err: unknown) =>
        err instanceof FormatSyntaxError &&
        err.line === 3 &&
        /^bb\.txt: line 3: "0x10" is not a block number/.test(err.message),
    );
    assert.throws(() => parseBlockList("1 2\n"), /line 1: "1 2"/);
  });

  it("converts units to bytes of main, with offsets either way, clipped to main", () => {
    assert.deepEqual(rangesOfList([1, 2, 5], 8192, { unitBytes: 1024 }), [
      { startBytes: 1024, lengthBytes: 2048 },
      { startBytes: 5120, lengthBytes: 1024 },
    ]);
    // The listed device starts at 4096 of main.
    assert.deepEqual(rangesOfList([0, 100], 8192, { unitBytes: 512, offsetBytes: 4096 }), [
      { startBytes: 4096, lengthBytes: 512 },
    ]);
    // Main starts at 4096 of the listed disk: units before main are dropped.
    assert.deepEqual(rangesOfList([3, 8], 8192, { unitBytes: 1024, mainOffsetBytes: 4096 }), [
      { startBytes: 4096, lengthBytes: 1024 },
    ]);
  });

  it("a unit larger than the block size lists every unit that touches a bad byte", () => {
    const state = { blockSize: 512, sizeBytes: 16384, remapped: [], pending: [9, 10, 17], suspects: [] };
    assert.deepEqual(listFromState(state, { unitBytes: 4096 }), [1, 2]);
    assert.deepEqual(listFromState(state, { unitBytes: 4096, offsetBytes: 5120 }), [0]);
  });
});
