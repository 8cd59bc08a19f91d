import { test } from "node:test";
import assert from "node:assert/strict";
import { ManualClock } from "./clock.js";
import { Pacer } from "./pacer.js";

const MIB = 1 << 20;

test("the bandwidth cap holds the scanner to its rate", async () => {
  const clock = new ManualClock(0);
  const pacer = new Pacer({ rateBytesPerSecond: 4 * MIB, latencyBudget: 0.1, maxQueueDepth: 2, clock });
  let admitted = 0;
  const run = (async () => {
    for (let i = 0; i < 12; i++) {
      await pacer.admit(MIB);
      admitted++;
    }
  })();
  // Wait until the pacer blocks on its clock, then move time one second at a time.
  const settle = () => new Promise((resolve) => setImmediate(resolve));
  await settle();
  const perSecond: number[] = [];
  for (let s = 0; s < 3; s++) {
    const before = admitted;
    clock.advance(1000);
    for (let i = 0; i < 20; i++) await settle();
    perSecond.push(admitted - before);
  }
  await run;
  assert.ok(
    perSecond.every((n) => n <= 5),
    `MiB admitted per second: ${perSecond.join(", ")}`,
  );
  assert.equal(pacer.status().allowedBytesPerSecond, 4 * MIB);
});

test("foreground p99 over budget halves the limit and the depth; a probe window measures the baseline", async () => {
  const clock = new ManualClock(0);
  const pacer = new Pacer({ rateBytesPerSecond: 0, latencyBudget: 0.1, maxQueueDepth: 4, clock });
  const windowOf = (ms: number) => {
    for (let i = 0; i < 100; i++) pacer.observeForeground(ms);
    clock.advance(1000);
    pacer.tick();
  };
  windowOf(1); // busy window, no baseline yet: the next window is a probe
  assert.equal(pacer.status().probing, true);
  windowOf(1); // probe: baseline 1 ms
  assert.ok(Math.abs(pacer.status().baselineP99Ms! - 1) < 0.1);
  assert.equal(pacer.status().throttled, false);
  windowOf(2); // p99 doubled: over the +10 % budget
  const s = pacer.status();
  assert.equal(s.throttled, true);
  assert.equal(s.queueDepth, 3);
  assert.ok(s.allowedBytesPerSecond !== null);
  const limited = s.allowedBytesPerSecond!;
  windowOf(1.02); // within budget again: the limit grows
  assert.ok(pacer.status().allowedBytesPerSecond! > limited);
  assert.equal(pacer.status().queueDepth, 4);
  assert.throws(
    () => new Pacer({ rateBytesPerSecond: 0, latencyBudget: 0.1, maxQueueDepth: 5, clock }),
    /scan queue depth 5 is not in 1..4/,
  );
});
