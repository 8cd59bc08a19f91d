// The replacement tee: writes, zeroing and trims reach both devices while armed, a user write that
// overlaps a copy in progress waits for it and wins on the new device, swap() serves the new device.
import { test } from "node:test";
import assert from "node:assert/strict";
import { LayerDevice, readBytes } from "./base-device.js";
import type { BlockDevice, WriteOptions } from "./block-device.js";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileDevice } from "./file-device.js";
import { MemoryDevice } from "./memory-device.js";
import { ReplaceTee } from "./replace-tee.js";
import { runBlockDeviceContract } from "./contract.js";

const MiB = 1 << 20;
const fill = (n: number, v: number) => new Uint8Array(n).fill(v);

/** Holds every write until release() (the test decides when a copy's write lands). */
class HeldWrites extends LayerDevice {
  readonly name = "held";
  private waiting: (() => void)[] = [];
  hold = true;
  held = 0;
  constructor(lower: BlockDevice) {
    super(lower);
  }
  protected override async _write(offsetBytes: number, data: Uint8Array, options: WriteOptions) {
    if (this.hold) {
      this.held++;
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    return this.lower.write(offsetBytes, data, options);
  }
  release(): void {
    this.hold = false;
    for (const go of this.waiting.splice(0)) go();
  }
  describe(): string {
    return "held:" + this.lower.describe();
  }
}

test("armed, writes and zeroes land on both devices and are recorded as wholly written", async () => {
  const old = new MemoryDevice({ sizeBytes: MiB });
  const next = new MemoryDevice({ sizeBytes: 2 * MiB });
  const tee = new ReplaceTee(old);
  await tee.write(0, fill(4096, 1));
  assert.deepEqual(await readBytes(next, 0, 4096), Buffer.from(fill(4096, 0)), "not armed yet");
  await tee.arm(next, 4096);
  await tee.write(8192, fill(6144, 2));
  await tee.writeZeroes(0, 4096);
  for (const dev of [old, next]) {
    assert.deepEqual(await readBytes(dev, 8192, 6144), Buffer.from(fill(6144, 2)));
    assert.deepEqual(await readBytes(dev, 0, 4096), Buffer.from(fill(4096, 0)));
  }
  assert.equal(tee.wasWhollyWritten(0), true);
  assert.equal(tee.wasWhollyWritten(2), true);
  assert.equal(tee.wasWhollyWritten(3), false, "block 3 was written only in part");
  assert.equal(tee.mirroredBytes, 6144 + 4096);
  await assert.rejects(tee.arm(next, 4096), /already armed/);
  await tee.close();
});

test("a user write overlapping a copy in progress waits for it and wins on the new device", async () => {
  const old = new MemoryDevice({ sizeBytes: MiB });
  await old.write(0, fill(65536, 7));
  const next = new HeldWrites(new MemoryDevice({ sizeBytes: MiB }));
  const tee = new ReplaceTee(old);
  await tee.arm(next, 4096);
  // The copier read the old bytes (7) and its write to the new device is held.
  const copy = tee.copyRange(0, new Uint8Array(65536));
  while (next.held === 0) await new Promise((r) => setImmediate(r));
  let userDone = false;
  const user = tee.write(4096, fill(4096, 9)).then(() => (userDone = true));
  await new Promise((r) => setImmediate(r));
  assert.equal(userDone, false, "the user write waits for the copy of its range");
  next.release();
  await Promise.all([copy, user]);
  assert.deepEqual(await readBytes(next, 4096, 4096), Buffer.from(fill(4096, 9)), "the user's data wins");
  assert.deepEqual(await readBytes(next, 0, 4096), Buffer.from(fill(4096, 7)), "copied bytes");
  assert.deepEqual(await readBytes(old, 4096, 4096), Buffer.from(fill(4096, 9)));
  await tee.close();
});

test("swap() serves the replacement and hands back the old device; a failing replacement never fails user I/O", async () => {
  const old = new MemoryDevice({ sizeBytes: MiB, name: "old" });
  const next = new MemoryDevice({ sizeBytes: MiB, name: "new" });
  const tee = new ReplaceTee(old);
  await assert.rejects(tee.arm(new MemoryDevice({ sizeBytes: 512 << 10 }), 4096), /fewer than/);
  await tee.arm(next, 4096);
  await tee.write(0, fill(512, 3));
  const back = await tee.swap();
  assert.equal(back, old);
  assert.equal(tee.describe(), next.describe());
  await tee.write(512, fill(512, 4));
  assert.deepEqual(await readBytes(old, 512, 512), Buffer.from(fill(512, 0)), "old device no longer written");
  assert.deepEqual(await readBytes(tee, 0, 1024), Buffer.concat([fill(512, 3), fill(512, 4)]));

  const broken = new MemoryDevice({ sizeBytes: MiB, name: "broken" });
  await broken.close();
  await tee.arm(broken, 4096);
  await tee.write(0, fill(512, 5));
  await tee.flush();
  assert.match(String(tee.replacementError), /closed/i);
  assert.equal(await tee.disarm(), broken);
  await back.close();
  await tee.close();
});

runBlockDeviceContract("ReplaceTee (pass-through)", async () => ({
  device: new ReplaceTee(new MemoryDevice({ sizeBytes: MiB })),
}));

runBlockDeviceContract("ReplaceTee (armed: mirroring to a replacement)", async () => {
  const tee = new ReplaceTee(new MemoryDevice({ sizeBytes: MiB }));
  await tee.arm(new MemoryDevice({ sizeBytes: MiB }), 4096);
  return { device: tee };
});

test("a write that rewrites a watched block completes only after persist(); a persist failure fails the replacement only", async () => {
  const tee = new ReplaceTee(new MemoryDevice({ sizeBytes: MiB }));
  const next = new MemoryDevice({ sizeBytes: MiB });
  await tee.arm(next, 4096);
  let release!: () => void;
  const persisted: number[][] = [];
  tee.watchRewrites({
    watched: (b) => b === 3 || b === 4,
    persist: async (blocks) => {
      await new Promise<void>((resolve) => (release = resolve));
      persisted.push([...blocks]);
    },
  });
  let done = false;
  // Blocks 2 (partly), 3 and 4 (whole): only 3 and 4 are watched and wholly written.
  const write = tee.write(2 * 4096 + 512, fill(3 * 4096 - 512, 7)).then(() => (done = true));
  while (!release) await new Promise((r) => setImmediate(r));
  assert.equal(done, false, "the write waits for persist()");
  release();
  await write;
  assert.deepEqual(persisted, [[3, 4]]);
  assert.ok(tee.wasWhollyWritten(3) && tee.wasWhollyWritten(4) && !tee.wasWhollyWritten(2));
  await tee.write(8 * 4096, fill(4096, 8), {}); // not watched: no persist
  assert.equal(persisted.length, 1);
  tee.watchRewrites({
    watched: () => true,
    persist: () => Promise.reject(new Error("record not written")),
  });
  await tee.write(9 * 4096, fill(4096, 9));
  assert.match(String(tee.replacementError), /record not written/);
  assert.ok(Buffer.from(await readBytes(next, 9 * 4096, 4096)).equals(fill(4096, 9)));
  // markWhollyWritten restores a bit (after a restart) without a write.
  tee.markWhollyWritten(20);
  assert.ok(tee.wasWhollyWritten(20));
  await tee.close();
});

test("a copy between files in memory reads and writes each range in one call, now; on disk through read() and write()", async () => {
  for (const root of ["/dev/shm", tmpdir()]) {
    const dir = await mkdtemp(join(root, "dmremap-tee-copy-"));
    try {
      const main = await FileDevice.create(join(dir, "main.img"), 4 * MiB);
      const next = await FileDevice.create(join(dir, "new.img"), 4 * MiB);
      const data = new Uint8Array(MiB).map((_, i) => (i * 13) & 255);
      await main.write(MiB, data);
      const tee = new ReplaceTee(main);
      await tee.arm(next, 4096);
      const reads = main.status().reads;
      let viaRead = 0;
      const read = main.read.bind(main);
      main.read = (offsetBytes, target) => {
        viaRead++;
        return read(offsetBytes, target);
      };
      const writes = next.status().writes;
      let viaWrite = 0;
      const write = next.write.bind(next);
      next.write = (offsetBytes, bytes, options) => {
        viaWrite++;
        return write(offsetBytes, bytes, options);
      };
      await tee.copyRange(MiB, new Uint8Array(MiB));
      assert.equal(viaRead, main.memoryBacked ? 0 : 1, `read() used only on disk (${root})`);
      // A served 1 MiB write into tmpfs goes to the threadpool; the copy's is one synchronous call.
      assert.equal(viaWrite, next.memoryBacked ? 0 : 1, `write() used only on disk (${root})`);
      assert.equal(next.status().writes - writes, 1, `one write of the new main (${root})`);
      assert.ok((await readBytes(next, MiB, MiB)).equals(data), `copied exact (${root})`);
      // On tmpfs one synchronous 1 MiB read (not 32 pieces of the served fast path); on disk one
      // threadpool read.
      assert.equal(main.status().reads - reads, 1, `one read of the main (${root})`);
      await tee.close();
      await next.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
});
