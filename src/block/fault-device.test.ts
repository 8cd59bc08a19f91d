// Unit tests of FaultDevice: one group per fault kind, runtime rule changes and counters.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { readBytes } from "./base-device.js";
import { MediumError, SpecError } from "./errors.js";
import { FaultDevice, type FaultDeviceOptions } from "./fault-device.js";
import type { FaultRuleConfig } from "./fault-rules.js";
import { MemoryDevice } from "./memory-device.js";

const MiB = 1 << 20;

function faulty(rules: FaultRuleConfig[], options: FaultDeviceOptions = {}) {
  const lower = new MemoryDevice({ sizeBytes: MiB });
  return { lower, device: new FaultDevice(lower, { ...options, rules }) };
}

function filled(length: number, value: number): Uint8Array {
  return new Uint8Array(length).fill(value);
}

async function outcome(p: Promise<unknown>): Promise<"ok" | "fail"> {
  try {
    await p;
    return "ok";
  } catch (err) {
    assert.ok(err instanceof MediumError, `unexpected ${String(err)}`);
    return "fail";
  }
}

describe("dust", () => {
  it("fails reads touching a bad block with a MediumError naming the failing range", async () => {
    const { device } = faulty([{ kind: "dust", blockSize: 4096, blocks: [5] }]);
    const err: unknown = await device.read(5 * 4096 - 100, new Uint8Array(1000)).catch((e: unknown) => e);
    assert.ok(err instanceof MediumError);
    assert.equal(err.op, "read");
    assert.equal(err.offsetBytes, 5 * 4096);
    assert.equal(err.lengthBytes, 900);
    assert.match(err.message, /bytes 20480\.\.21379 \(dust bad block 5\)/);
    await device.read(4 * 4096, new Uint8Array(4096));
    await device.read(6 * 4096, new Uint8Array(4096));
    assert.equal(device.faultCounters().dustReadErrors, 1);
  });

  it("keeps failing writes and reads without heal", async () => {
    const { device, lower } = faulty([{ kind: "dust", blocks: [2] }]);
    await assert.rejects(device.write(2 * 4096 + 10, filled(10, 7)), (e: unknown) => {
      assert.ok(e instanceof MediumError);
      assert.equal(e.op, "write");
      assert.equal(e.offsetBytes, 2 * 4096 + 10);
      return true;
    });
    assert.equal(
      (await readBytes(lower, 2 * 4096 + 10, 10)).every((b) => b === 0),
      true,
      "failed write reached lower",
    );
    await assert.rejects(device.read(2 * 4096, new Uint8Array(512)), MediumError);
    await assert.rejects(device.writeZeroes(2 * 4096, 512), MediumError);
    assert.deepEqual(device.listBadBlocks(), [2]);
    assert.equal(device.faultCounters().dustWriteErrors, 2);
  });

  it("heals a bad block on write when configured, after which reads return the data", async () => {
    const { device } = faulty([{ kind: "dust", blocks: [2, 3], heal: true }]);
    await device.write(2 * 4096, filled(4096, 9));
    assert.deepEqual(device.listBadBlocks(), [3]);
    assert.ok((await readBytes(device, 2 * 4096, 4096)).every((b) => b === 9));
    await assert.rejects(device.read(3 * 4096, new Uint8Array(1)), MediumError);
    assert.equal(device.faultCounters().dustHeals, 1);
  });

  it("adds, removes and lists bad blocks at runtime and validates them", async () => {
    const { device } = faulty([]);
    device.addBadBlock(7);
    device.addBadBlock(1);
    assert.deepEqual(device.listBadBlocks(), [1, 7]);
    await assert.rejects(device.read(7 * 4096, new Uint8Array(1)), MediumError);
    assert.equal(device.removeBadBlock(7), true);
    assert.equal(device.removeBadBlock(7), false);
    await device.read(7 * 4096, new Uint8Array(1));
    assert.throws(() => device.addBadBlock(256), /dust block 256 is not inside the device \(256 blocks/);
    assert.equal(device.describe(), "dust:block-size=4K,block=1:mem:1M");
  });
});

describe("flakey", () => {
  it("switches between up and down on the injected clock", async () => {
    let now = 1000;
    const { device } = faulty([{ kind: "flakey", up: 5000, down: 1000 }], { now: () => now });
    const read = () => outcome(device.read(0, new Uint8Array(512)));
    const seen: string[] = [];
    for (const t of [1000, 5999, 6000, 6999, 7000, 11_999, 12_000]) {
      now = t;
      seen.push(await read());
    }
    assert.deepEqual(seen, ["ok", "ok", "fail", "fail", "ok", "ok", "fail"]);
    now = 12_500;
    device.resetClock();
    assert.equal(await read(), "ok");
    await device.write(0, filled(1, 1));
    now = 18_000;
    await assert.rejects(device.write(0, filled(1, 1)), MediumError);
    await assert.rejects(device.flush(), MediumError);
    const c = device.faultCounters();
    assert.deepEqual([c.flakeyReadErrors, c.flakeyWriteErrors, c.flakeyFlushErrors], [3, 1, 1]);
  });

  it("drop-writes acknowledges writes but discards them while down", async () => {
    let now = 0;
    const { device } = faulty([{ kind: "flakey", up: 100, down: 100, modes: ["drop-writes"] }], {
      now: () => now,
    });
    await device.write(0, filled(512, 1));
    now = 150;
    await device.write(0, filled(512, 2), { fua: true });
    await device.writeZeroes(0, 100);
    assert.ok(
      (await readBytes(device, 0, 512)).every((b) => b === 1),
      "dropped write is visible",
    );
    now = 200;
    assert.ok((await readBytes(device, 0, 512)).every((b) => b === 1));
    assert.equal(device.faultCounters().flakeyDroppedWrites, 2);
  });

  it("corrupt-byte corrupts the configured byte of reads while down, and only then", async () => {
    let now = 0;
    const rule: FaultRuleConfig = {
      kind: "flakey",
      up: 10,
      down: 10,
      modes: ["corrupt-byte"],
      corruptOffset: 3,
    };
    const { device, lower } = faulty([rule], { now: () => now });
    await device.write(0, filled(8, 0x11));
    now = 15;
    const got = await readBytes(device, 0, 8);
    assert.deepEqual([...got], [0x11, 0x11, 0x11, 0xee, 0x11, 0x11, 0x11, 0x11]);
    assert.ok(
      (await readBytes(lower, 0, 8)).every((b) => b === 0x11),
      "corruption reached the medium",
    );
    assert.deepEqual([...(await readBytes(device, 0, 3))], [0x11, 0x11, 0x11], "short read untouched");
    device.clearRules();
    device.addRule({ ...rule, corruptValue: 0x42 });
    now = 25;
    assert.equal((await readBytes(device, 0, 8))[3], 0x42);
    now = 35;
    assert.equal((await readBytes(device, 0, 8))[3], 0x11);
    assert.equal(device.faultCounters().flakeyCorruptedReads, 2);
  });

  it("rejects contradictory modes and zero cycles", () => {
    const lower = new MemoryDevice({ sizeBytes: MiB });
    assert.throws(
      () =>
        new FaultDevice(lower, {
          rules: [{ kind: "flakey", up: 1, down: 1, modes: ["error-writes", "drop-writes"] }],
        }),
      (e: unknown) =>
        e instanceof SpecError && /"error-writes" and "drop-writes" exclude each other/.test(e.message),
    );
    assert.throws(() => new FaultDevice(lower, { rules: [{ kind: "flakey", up: 0, down: 0 }] }), /both 0/);
  });
});

describe("random", () => {
  async function sequence(seed: number): Promise<string> {
    const { device } = faulty([{ kind: "random", read: 0.1, write: 0.2, flush: 0.3, seed }]);
    const out: string[] = [];
    for (let i = 0; i < 1000; i++) {
      const op =
        i % 3 === 0
          ? device.read(512 * (i % 100), new Uint8Array(512))
          : i % 3 === 1
            ? device.write(512 * (i % 100), filled(512, i & 0xff))
            : device.flush();
      out.push((await outcome(op)) === "ok" ? "." : "x");
    }
    return out.join("");
  }

  it("the same seed reproduces the same fault sequence; another seed does not", async () => {
    const a = await sequence(42);
    const b = await sequence(42);
    const c = await sequence(43);
    assert.equal(a, b);
    assert.notEqual(a, c);
    const failures = [...a].filter((ch) => ch === "x").length;
    assert.ok(failures > 100 && failures < 300, `about 20% of 1000 ops fail (got ${failures})`);
  });

  it("counts failures per operation type and fails nothing at rate 0", async () => {
    const { device } = faulty([{ kind: "random", read: 1, write: 0, flush: 1 }]);
    await assert.rejects(device.read(0, new Uint8Array(1)), MediumError);
    await device.write(0, filled(1, 1));
    await assert.rejects(device.flush(), MediumError);
    const c = device.faultCounters();
    assert.deepEqual([c.randomReadErrors, c.randomWriteErrors, c.randomFlushErrors], [1, 0, 1]);
    assert.equal(device.status().injected, 2);
    assert.equal(device.status().errors, 2);
  });
});

describe("delay", () => {
  it("delays only requests touching the configured range, by the configured time", async () => {
    const sleeps: number[] = [];
    const order: string[] = [];
    let release: () => void = () => {};
    const sleep = (ms: number) => {
      sleeps.push(ms);
      return new Promise<void>((resolve) => (release = resolve));
    };
    const range = { offsetBytes: 65536, lengthBytes: 4096 };
    const { device } = faulty([{ kind: "delay", read: 200, write: 50, range }], { sleep });
    const slow = device.read(65536 + 4000, new Uint8Array(512)).then(() => order.push("slow"));
    const fast = device.read(0, new Uint8Array(512)).then(() => order.push("fast"));
    await fast;
    assert.deepEqual(order, ["fast"], "the delayed read finished before its sleep ended");
    release();
    await slow;
    assert.deepEqual(order, ["fast", "slow"]);
    await device.write(65536 + 4096, filled(512, 1));
    await device.flush();
    const slowWrite = device.write(60_000, filled(6000, 1));
    release();
    await slowWrite;
    assert.deepEqual(sleeps, [200, 50]);
    assert.deepEqual([device.faultCounters().delayedReads, device.faultCounters().delayedWrites], [1, 1]);
  });

  it("rejects a range outside the device", () => {
    const lower = new MemoryDevice({ sizeBytes: MiB });
    const range = { offsetBytes: MiB - 512, lengthBytes: 1024 };
    assert.throws(
      () => new FaultDevice(lower, { rules: [{ kind: "delay", read: 1, range }] }),
      /delay range/,
    );
  });
});

describe("rule management", () => {
  it("adds, lists and removes rules at runtime; describe() recreates the rules", async () => {
    const { device } = faulty([]);
    assert.equal(device.describe(), "fault::mem:1M");
    const dust = device.addRule({ kind: "dust", blocks: [1, 2, 3, 9], heal: true });
    const random = device.addRule({ kind: "random", write: 0.5, seed: 9 });
    assert.deepEqual(
      device.listRules().map((r) => [r.id, r.kind, r.spec]),
      [
        [dust, "dust", "dust:block-size=4K,block=1-3,block=9,heal"],
        [random, "random", "random:read=0,write=0.5,flush=0,seed=9"],
      ],
    );
    assert.equal(
      device.describe(),
      "dust:block-size=4K,block=1-3,block=9,heal:random:read=0,write=0.5,flush=0,seed=9:mem:1M",
    );
    assert.equal(device.removeRule(dust), true);
    assert.equal(device.removeRule(dust), false);
    await device.read(4096, new Uint8Array(1));
    assert.deepEqual(device.status().rules, ["random:read=0,write=0.5,flush=0,seed=9"]);
    device.clearRules();
    assert.deepEqual(device.listRules(), []);
  });

  it("passes through data, capabilities and size of the lower device", async () => {
    const { device, lower } = faulty([{ kind: "dust", blocks: [100] }]);
    await device.write(0, filled(512, 5));
    assert.ok((await readBytes(lower, 0, 512)).every((b) => b === 5));
    assert.equal(device.sizeBytes, lower.sizeBytes);
    assert.deepEqual(device.capabilities, lower.capabilities);
    await device.close();
    assert.equal(lower.status().closed, true);
  });
});
