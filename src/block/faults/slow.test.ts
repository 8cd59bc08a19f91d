// Unit tests of the slow kind: weak blocks that read only on the k-th attempt, and requests that wait
// on the injected sleep before going on (a write that outlives its deadline lands afterwards).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { readBytes } from "../base-device.js";
import { MediumError } from "../errors.js";
import { FaultDevice } from "../fault-device.js";
import { normalizeFaultRule, type FaultRuleConfig } from "../fault-rules.js";
import { MemoryDevice } from "../memory-device.js";

const MiB = 1 << 20;

function slowDevice(rule: Omit<FaultRuleConfig, "kind">, sleep?: (ms: number) => Promise<void>) {
  const lower = new MemoryDevice({ sizeBytes: MiB });
  const device = new FaultDevice(lower, { rules: [{ kind: "slow", ...rule }], ...(sleep ? { sleep } : {}) });
  return { lower, device };
}

async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "ok";
  } catch (err) {
    assert.ok(err instanceof MediumError, String(err));
    return "fail";
  }
}

describe("slow", () => {
  it("a weak block reads only on every k-th attempt; other blocks are untouched", async () => {
    const { device } = slowDevice({ blocks: [7], attempts: 3 });
    const seen: string[] = [];
    for (let i = 0; i < 6; i++) seen.push(await outcome(device.read(7 * 4096 + 512, new Uint8Array(512))));
    assert.deepEqual(seen, ["fail", "fail", "ok", "fail", "fail", "ok"]);
    assert.equal(await outcome(device.read(6 * 4096, new Uint8Array(4096))), "ok");
    await assert.rejects(
      device.read(6 * 4096, new Uint8Array(8192)),
      /medium error on read of bytes 28672\.\.32767 \(weak block 7\)/,
    );
    await device.write(7 * 4096, new Uint8Array(4096).fill(1));
    const c = device.faultCounters();
    assert.deepEqual([c.slowReads, c.slowReadErrors, c.slowWrites, c.slowWriteErrors], [7, 5, 0, 0]);
  });

  it("delays reads of weak blocks on the injected sleep; writes only with `writes`", async () => {
    const sleeps: number[] = [];
    let release = () => {};
    const sleep = (ms: number) => {
      sleeps.push(ms);
      return new Promise<void>((resolve) => (release = resolve));
    };
    const { device, lower } = slowDevice({ blocks: [2], delay: 28_000, writes: true }, sleep);
    const order: string[] = [];
    const slowWrite = device
      .write(2 * 4096, new Uint8Array(4096).fill(9))
      .then(() => order.push("slow write"));
    await device.write(3 * 4096, new Uint8Array(4096).fill(3)).then(() => order.push("fast write"));
    assert.deepEqual(order, ["fast write"]);
    assert.deepEqual(sleeps, [28_000]);
    assert.ok(
      (await readBytes(lower, 2 * 4096, 4096)).every((b) => b === 0),
      "the slow write has not landed yet",
    );
    release();
    await slowWrite;
    assert.ok(
      (await readBytes(lower, 2 * 4096, 4096)).every((b) => b === 9),
      "it lands after the delay",
    );
    const read = readBytes(device, 2 * 4096, 16);
    release();
    assert.ok((await read).every((b) => b === 9));
    assert.deepEqual(sleeps, [28_000, 28_000]);
    await device.flush();
    assert.deepEqual(sleeps.length, 2, "flush is not delayed");
  });

  it("writes pass untouched without `writes`", async () => {
    const { device } = slowDevice({ blocks: [1], attempts: 2 });
    await device.write(4096, new Uint8Array(4096));
    assert.equal(await outcome(device.read(4096, new Uint8Array(1))), "fail");
    assert.equal(await outcome(device.read(4096, new Uint8Array(1))), "ok");
  });

  it("needs blocks inside the device and attempts >= 1", () => {
    assert.throws(() => normalizeFaultRule({ kind: "slow" }, MiB), /slow option "blocks" is required/);
    assert.throws(
      () => normalizeFaultRule({ kind: "slow", blocks: [] }, MiB),
      /slow needs at least one block/,
    );
    assert.throws(
      () => normalizeFaultRule({ kind: "slow", blocks: [256] }, MiB),
      /slow block 256 is not inside/,
    );
    assert.throws(
      () => normalizeFaultRule({ kind: "slow", blocks: [1], attempts: 0 }, MiB),
      /below the minimum 1/,
    );
  });
});
