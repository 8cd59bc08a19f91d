// Unit tests of the grow kind: scheduled and clustered bad blocks on an injected clock, deterministic
// given seed and clock, independent of when the clock is looked at.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MediumError } from "../errors.js";
import { FaultDevice } from "../fault-device.js";
import { normalizeFaultRule, type FaultRuleConfig } from "../fault-rules.js";
import { MemoryDevice } from "../memory-device.js";
import type { FaultContext } from "./fault-kind.js";
import { grow, GrowAction } from "./grow.js";

const SIZE = 16 << 20; // 4096 blocks of 4 KiB
const MIN = 60_000;

function action(config: Omit<FaultRuleConfig, "kind">, clock: { now: number }): GrowAction {
  const rule = normalizeFaultRule({ kind: "grow", ...config }, SIZE);
  const ctx: FaultContext = {
    device: "mem",
    sizeBytes: SIZE,
    now: () => clock.now,
    sleep: () => Promise.resolve(),
    count: () => {},
  };
  return grow.create(rule.options as never, ctx) as GrowAction;
}

describe("grow", () => {
  it("fails reads and writes of scheduled blocks once their time has come", async () => {
    let now = 5000;
    const device = new FaultDevice(new MemoryDevice({ sizeBytes: SIZE }), {
      now: () => now,
      rules: [{ kind: "grow", blocks: [1], events: ["10s@5", "1m@7-8"] }],
    });
    const fails = async (block: number) =>
      device.read(block * 4096, new Uint8Array(512)).then(
        () => false,
        (e: unknown) => (assert.ok(e instanceof MediumError), true),
      );
    assert.deepEqual([await fails(1), await fails(5), await fails(7)], [true, false, false]);
    now = 5000 + 10_000;
    assert.deepEqual([await fails(5), await fails(7)], [true, false]);
    await assert.rejects(device.write(5 * 4096 + 100, new Uint8Array(10)), /grown bad block 5/);
    now = 5000 + MIN;
    assert.deepEqual([await fails(7), await fails(8), await fails(9)], [true, true, false]);
    const c = device.faultCounters();
    assert.deepEqual([c.growReadErrors, c.growWriteErrors, c.grownBlocks], [4, 1, 3]);
    assert.deepEqual(device.listRules()[0]!.status, { badBlocks: 4, grown: 3 });
    assert.deepEqual(device.listBadBlocks(), [1, 5, 7, 8]);
    assert.equal(
      device.describe(),
      "grow:block-size=4K,block=1,event=10s@5,event=1m@7-8,per-hour=0,radius=8,limit=10000,seed=1:mem:16M",
    );
  });

  it("grows per-hour blocks clustered within the radius of existing ones", () => {
    const clock = { now: 0 };
    const a = action({ blocks: [2000], perHour: 60, radius: 4, seed: 7 }, clock);
    assert.deepEqual(a.list(), [2000]);
    clock.now = 30 * MIN - 1;
    assert.equal(a.list().length, 30, "29 arrivals before minute 30, plus the initial block");
    clock.now = 30 * MIN;
    const bad = a.list();
    assert.equal(bad.length, 31);
    for (const b of bad) {
      if (b === 2000) continue;
      assert.ok(
        bad.some((other) => other !== b && Math.abs(other - b) <= 4),
        `block ${b} lies within 4 blocks of another bad block`,
      );
    }
    assert.ok(Math.max(...bad) - Math.min(...bad) <= 2 * 4 * 30, "one cluster");
  });

  it("is deterministic given seed and clock, however often the clock is read", () => {
    const once = { now: 0 };
    const often = { now: 0 };
    const a = action({ blocks: [100, 3000], perHour: 120, seed: 42 }, once);
    const b = action({ blocks: [100, 3000], perHour: 120, seed: 42 }, often);
    for (let t = 0; t <= 60 * MIN; t += 7_001) {
      often.now = t;
      b.list();
    }
    once.now = often.now = 60 * MIN;
    assert.deepEqual(a.list(), b.list());
    const other = action({ blocks: [100, 3000], perHour: 120, seed: 43 }, { now: 60 * MIN });
    assert.notDeepEqual(other.list(), a.list());
  });

  it("starts anywhere without initial blocks and stops at the limit", () => {
    const clock = { now: 0 };
    const a = action({ perHour: 1000, limit: 5, seed: 3 }, clock);
    clock.now = 10 * 60 * MIN;
    const bad = a.list();
    assert.equal(bad.length, 5);
    assert.ok(bad.every((b) => b >= 0 && b < 4096));
    assert.deepEqual(a.status(), { badBlocks: bad.length, grown: bad.length });
  });

  it("refuses blocks outside the device and a bad block size", () => {
    assert.throws(
      () => normalizeFaultRule({ kind: "grow", events: ["1m@4096"] }, SIZE),
      /grow block 4096 is not inside the device \(4096 blocks of 4096 bytes\)/,
    );
    assert.throws(() => normalizeFaultRule({ kind: "grow", blockSize: 1000 }, SIZE), /not a power of two/);
    assert.throws(
      () => normalizeFaultRule({ kind: "grow", radius: 0 }, SIZE),
      /"radius": 0 is below the minimum 1/,
    );
  });
});
