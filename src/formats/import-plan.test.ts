// Import plans: what changes against the current state, and marking blocks with bounded concurrency.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { describePlan, markAll, planImport } from "./import-plan.js";

const STATE = {
  blockSize: 4096,
  sizeBytes: 40960,
  remapped: [{ block: 2, spare: 0, spareOffsetBytes: 0, lostSectors: [] }],
  pending: [3],
  suspects: [7],
};

describe("import plans", () => {
  it("skips remapped and pending blocks, and suspects that are bad, remapped or already suspect", () => {
    const plan = planImport(STATE, {
      bad: [{ startBytes: 4096, lengthBytes: 3 * 4096 }],
      suspect: [{ startBytes: 2 * 4096, lengthBytes: 7 * 4096 }],
      outsideBytes: 512,
    });
    assert.deepEqual(plan.markPending, [1]);
    assert.deepEqual(plan.alreadyRemapped, [2]);
    assert.deepEqual(plan.alreadyPending, [3]);
    assert.deepEqual(plan.addSuspects, [4, 5, 6, 8]);
    assert.deepEqual(plan.alreadySuspect, [7]);
    assert.deepEqual(describePlan(plan, true), [
      "would mark pending: 1 block(s): 1",
      "would add suspects: 4 block(s): 4 5 6 8",
      "unchanged: 1 already pending, 1 already remapped, 1 already suspect",
      "ignored: 512 bytes reported outside main",
    ]);
  });

  it("marks every block, at most `concurrency` at a time", async () => {
    let running = 0;
    let peak = 0;
    const result = await markAll(
      [5, 1, 4, 2, 3, 9, 8],
      async () => {
        running++;
        peak = Math.max(peak, running);
        await Promise.resolve();
        running--;
      },
      3,
    );
    assert.deepEqual(result, { done: [1, 2, 3, 4, 5, 8, 9] });
    assert.equal(peak, 3);
  });

  it("stops starting new blocks after a failure and reports what was done", async () => {
    const started: number[] = [];
    const result = await markAll(
      [1, 2, 3, 4, 5],
      async (b) => {
        started.push(b);
        if (b === 2) throw new Error("disk on fire");
      },
      1,
    );
    assert.deepEqual(result.done, [1]);
    assert.equal(result.failed?.block, 2);
    assert.match(String(result.failed?.error), /disk on fire/);
    assert.deepEqual(started, [1, 2]);
  });
});
