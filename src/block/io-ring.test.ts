// The completion wake protocol of the I/O worker rings (io-ring.ts), under every interleaving of its
// atomic steps: the event loop waits only when the worker owes it a wake-up message, and then it gets one.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { announceWait, CTRL_COMP_HEAD, CTRL_MAIN_WAITING, ioRing, publishCompletions } from "./io-ring.js";

/** Where a step of the other side runs, relative to announceWait / publishCompletions' own steps. */
const POINTS = [0, 1, 2, 3] as const;

/** Start values near the 2^31 wrap, where the counters turn negative. */
const STARTS = [0, 41, 0x7fffffff];

describe("the completion wake protocol", () => {
  it("event loop side: it waits exactly when the worker's completion sends a message (all 10 orders)", () => {
    let cases = 0;
    for (const start of STARTS) {
      for (const storeAt of POINTS) {
        for (const takeAt of POINTS) {
          if (takeAt < storeAt) continue;
          const { ctrl } = ioRing(2, 512);
          Atomics.store(ctrl, CTRL_COMP_HEAD, start);
          let sent = false;
          // The worker's two steps (what publishCompletions does), placed between the event loop's.
          const worker = (point: number): void => {
            if (point === storeAt) Atomics.store(ctrl, CTRL_COMP_HEAD, (start + 1) | 0);
            if (point === takeAt) sent = Atomics.compareExchange(ctrl, CTRL_MAIN_WAITING, 1, 0) === 1;
          };
          worker(0);
          const hooked = new Set<number>();
          const waits = announceWait(ctrl, start, (step) => {
            hooked.add(step);
            worker(step);
          });
          // announceWait returns after step 1 when nothing had completed: step 2's work runs afterwards.
          if (!hooked.has(2)) worker(2);
          worker(3);
          assert.equal(waits, sent, `completion stored at ${storeAt}, flag taken at ${takeAt}`);
          // Either way nothing is left owed: the flag is down once the completion is published.
          assert.equal(Atomics.load(ctrl, CTRL_MAIN_WAITING), 0);
          cases++;
        }
      }
    }
    assert.equal(cases, 10 * STARTS.length);
  });

  it("worker side: a completion sends a message exactly when the event loop's announce made it wait", () => {
    for (const start of STARTS) {
      for (const announceAt of [0, 1, 2]) {
        const { ctrl } = ioRing(2, 512);
        Atomics.store(ctrl, CTRL_COMP_HEAD, start);
        let waits: boolean | undefined;
        const loop = (point: number): void => {
          if (point === announceAt) waits = announceWait(ctrl, start);
        };
        loop(0);
        const sent = publishCompletions(ctrl, (start + 1) | 0, loop);
        loop(2);
        assert.equal(waits, sent, `announce at ${announceAt}`);
        assert.equal(Atomics.load(ctrl, CTRL_COMP_HEAD), (start + 1) | 0);
      }
    }
  });

  it("with nothing completed, the event loop waits and the flag stays up for the next completion", () => {
    const { ctrl } = ioRing(2, 512);
    assert.equal(announceWait(ctrl, 0), true);
    assert.equal(Atomics.load(ctrl, CTRL_MAIN_WAITING), 1);
    assert.equal(publishCompletions(ctrl, 1), true);
    // Later completions of the same batch send nothing more.
    assert.equal(publishCompletions(ctrl, 2), false);
  });
});
