import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { FileDevice } from "./file-device.js";
import { INLINE_SLOW_MS, InlineWriteGate, inlineWritesFromEnv } from "./inline-writes.js";

describe("InlineWriteGate", () => {
  it("allows inline writes while they stay fast", () => {
    const gate = new InlineWriteGate(() => 0);
    for (let i = 0; i < 100; i++) gate.took(0.01);
    assert.equal(gate.allows(), true);
    assert.equal(gate.slowWrites, 0);
  });

  it("cools off after a slow write, doubling while writes stay slow, halving once fast again", () => {
    let now = 0;
    const gate = new InlineWriteGate(() => now);
    gate.took(INLINE_SLOW_MS + 1);
    assert.equal(gate.allows(), false, "a slow write sends the next ones to the threadpool");
    assert.equal(gate.coolingOff, true);
    now = 999;
    assert.equal(gate.allows(), false);
    now = 1000;
    assert.equal(gate.allows(), true, "one second later an inline write is tried again");
    gate.took(50);
    assert.equal(gate.allows(), false);
    now = 2999;
    assert.equal(gate.allows(), false, "the second cool-off is two seconds");
    now = 3000;
    gate.took(0.01);
    assert.equal(gate.allows(), true);
    gate.took(50);
    now = 3999;
    assert.equal(gate.allows(), false, "after a fast write the cool-off halved (4 s -> 2 s)");
    now = 5000;
    assert.equal(gate.allows(), true);
    assert.equal(gate.slowWrites, 3);
  });

  it("never cools off longer than a minute", () => {
    let now = 0;
    const gate = new InlineWriteGate(() => now);
    for (let i = 0; i < 20; i++) {
      gate.took(100);
      now += 60_000;
      assert.equal(gate.allows(), true, `cool-off ${i} ended within a minute`);
    }
  });
});

describe("DMREMAP_IO_INLINE_WRITES", () => {
  it("is on by default, 0 turns it off, anything else is refused by name", () => {
    assert.equal(inlineWritesFromEnv({}), true);
    assert.equal(inlineWritesFromEnv({ DMREMAP_IO_INLINE_WRITES: "1" }), true);
    assert.equal(inlineWritesFromEnv({ DMREMAP_IO_INLINE_WRITES: "0" }), false);
    assert.throws(
      () => inlineWritesFromEnv({ DMREMAP_IO_INLINE_WRITES: "yes" }),
      /DMREMAP_IO_INLINE_WRITES="yes" is not 0 or 1/,
    );
  });
});

describe("FileDevice inline writes on a disk file", () => {
  it("writes aligned and unaligned pieces exactly, reports the gate in status, off on request", async () => {
    const dir = await mkdtemp("/var/tmp/dmremap-inline-");
    try {
      const path = join(dir, "disk.img");
      const device = await FileDevice.create(path, 1 << 20);
      const onDisk = device.memoryBacked === false;
      const status = device.status();
      if (onDisk) assert.deepEqual(status["inlineWrites"], { coolingOff: false, slowWrites: 0 });
      const expected = new Uint8Array(1 << 20);
      const pieces: [number, number][] = [
        [0, 4096], // one page: inline
        [8192, 32768], // eight pages: inline
        [65536 + 512, 1024], // not page-aligned: threadpool
        [131072, 65536], // above the inline size: threadpool
        [4096, 4096],
      ];
      let seed = 7;
      for (const [at, n] of pieces) {
        const data = new Uint8Array(n).map(() => (seed = (seed * 1103515245 + 12345) & 0xff));
        await device.write(at, data);
        expected.set(data, at);
      }
      await device.flush();
      const back = new Uint8Array(1 << 20);
      await device.read(0, back);
      assert.deepEqual(back, expected);
      await device.close();
      const off = await FileDevice.open(path, { inlineWrites: false });
      assert.equal(off.status()["inlineWrites"], undefined);
      const reread = new Uint8Array(1 << 20);
      await off.read(0, reread);
      assert.deepEqual(reread, expected);
      await off.close();
      const ro = await FileDevice.open(path, { readOnly: true });
      assert.equal(ro.status()["inlineWrites"], undefined, "read-only devices have no inline writes");
      await ro.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
