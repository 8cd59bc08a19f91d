import { test } from "node:test";
import assert from "node:assert/strict";
import { OP_READ, OP_WRITE, REQUEST_OPS, RequestTimes } from "../core/request-times.js";
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

test("sustained foreground latency over budget throttles the scanner hard; it recovers when the foreground stops", async () => {
  const clock = new ManualClock(0);
  const pacer = new Pacer({ rateBytesPerSecond: 0, latencyBudget: 0.1, maxQueueDepth: 4, clock });
  // Idle device: no limit at all, full depth, admit returns at once.
  await pacer.admit(512 * 1024);
  assert.equal(pacer.status().allowedBytesPerSecond, null);
  assert.equal(pacer.queueDepth, 4);

  // Foreground requests appear: the very next admission is already limited, at depth 1.
  pacer.observeForeground(0.4);
  await pacer.admit(512 * 1024);
  const first = pacer.status();
  assert.equal(first.throttled, true);
  assert.ok(first.allowedBytesPerSecond! <= 4 * MIB, `limit ${first.allowedBytesPerSecond}`);
  assert.equal(pacer.queueDepth, 1);

  // Windows of 100 ms: foreground p99 0.4 ms while probing (baseline), 0.8 ms otherwise.
  const windowOf = (ms: number) => {
    for (let i = 0; i < 100; i++) {
      clock.advance(1);
      pacer.observeForeground(ms);
    }
    clock.advance(900);
    pacer.observeForeground(ms);
    pacer.tick();
  };
  for (let w = 0; w < 40; w++) windowOf(pacer.status().probing ? 0.4 : 0.8);
  const hot = pacer.status();
  assert.ok(Math.abs(hot.baselineP99Ms! - 0.4) < 0.05, `baseline ${hot.baselineP99Ms}`);
  assert.equal(hot.throttled, true);
  assert.equal(hot.queueDepth, 1);
  // At most one 512 KiB read per second: under 0.1 % of an idle scanner's 1 GB/s.
  assert.ok(hot.allowedBytesPerSecond! <= MIB, `limit ${hot.allowedBytesPerSecond}`);

  // What the scanner really gets through admit over 10 s of sustained load: a few reads.
  let admitted = 0;
  let busy = true;
  const run = (async () => {
    while (busy) {
      await pacer.admit(512 * 1024);
      admitted++;
      // Unlimited admissions resolve at once: yield to the test so it can move the clock.
      await new Promise((resolve) => setImmediate(resolve));
    }
  })();
  const settle = async () => {
    for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
  };
  for (let ms = 0; ms < 10_000; ms += 10) {
    pacer.observeForeground(pacer.status().probing ? 0.4 : 0.8);
    clock.advance(10);
    await settle();
  }
  assert.ok(admitted * 512 * 1024 <= 20 * MIB, `admitted ${admitted} reads in 10 s`);

  // The foreground stops: within a window or two the scanner runs unlimited at full depth.
  const before = admitted;
  clock.advance(1000);
  await settle();
  pacer.tick();
  clock.advance(1000);
  await settle();
  pacer.tick();
  await settle();
  const idle = pacer.status();
  assert.equal(idle.throttled, false);
  assert.equal(idle.allowedBytesPerSecond, null);
  assert.equal(pacer.queueDepth, 4);
  assert.ok(admitted - before >= 10, `admitted ${admitted - before} reads once idle`);
  busy = false;
  await run;
});

test("a batch of request times feeds the controller like its reads and writes one by one", async () => {
  const clock = new ManualClock(0);
  const pacer = new Pacer({ rateBytesPerSecond: 0, latencyBudget: 0.1, maxQueueDepth: 4, clock });
  // Flushes, trims and zeroing are not foreground reads or writes: the scanner stays unlimited.
  const other = new RequestTimes();
  other.add(REQUEST_OPS.indexOf("flush"), 0.5);
  other.add(REQUEST_OPS.indexOf("trim"), 0.5);
  pacer.observeForegroundTimes(other);
  await pacer.admit(512 * 1024);
  assert.equal(pacer.status().allowedBytesPerSecond, null);
  // A batch with reads and writes: the next admission is limited, as after observeForeground().
  const batch = new RequestTimes();
  for (let i = 0; i < 100; i++) batch.add(i % 2 === 0 ? OP_READ : OP_WRITE, 0.001);
  batch.add(REQUEST_OPS.indexOf("zero"), 10);
  pacer.observeForegroundTimes(batch);
  await pacer.admit(512 * 1024);
  assert.equal(pacer.status().throttled, true);
  assert.equal(pacer.queueDepth, 1);
  // The window's p99 is the reads' and writes' 1 ms, not the 10 s zeroing.
  clock.advance(1000);
  pacer.tick();
  assert.ok(pacer.status().foregroundP99Ms! < 2, `p99 ${pacer.status().foregroundP99Ms}`);
});
