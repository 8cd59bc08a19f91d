// The synchronous fast path: which devices and layers answer now (memory, files on tmpfs, the
// fenced main, the replacement tee while not armed), which refuse (disk reads, layers without a
// fast path, an armed tee's writes), and that an answer is counted exactly once.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { after, test } from "node:test";
import { tryReadNow, tryWriteNow } from "./answer-now.js";
import { LayerDevice, readBytes } from "./base-device.js";
import { directTestDir } from "./direct-test-dir.js";
import { FileDevice } from "./file-device.js";
import { MemoryDevice } from "./memory-device.js";
import { ReplaceTee } from "./replace-tee.js";

const MiB = 1 << 20;
const fill = (n: number, v: number) => Buffer.alloc(n, v);
const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

/** A layer that keeps the default: no fast path of its own. */
class PlainLayer extends LayerDevice {
  readonly name = "plain";
  describe(): string {
    return "plain:" + this.lower.describe();
  }
}

test("memory answers every read and write now, counted once", () => {
  const mem = new MemoryDevice({ sizeBytes: MiB });
  assert.equal(tryWriteNow(mem, 4096, fill(8192, 7)), true);
  const out = Buffer.alloc(8192);
  assert.equal(tryReadNow(mem, 4096, out), true);
  assert.ok(out.equals(fill(8192, 7)));
  const s = mem.status();
  assert.deepEqual([s.reads, s.writes, s.bytesRead, s.bytesWritten], [1, 1, 8192, 8192]);
});

test("a file on tmpfs answers small requests now; a large one and a disk file's reads refuse", async () => {
  const shm = await mkdtemp(join("/dev/shm", "dmremap-now-"));
  dirs.push(shm);
  const file = await FileDevice.create(join(shm, "a.img"), 4 * MiB);
  try {
    assert.equal(file.memoryBacked, true);
    assert.equal(tryWriteNow(file, 0, fill(4096, 3)), true);
    const out = Buffer.alloc(4096);
    assert.equal(tryReadNow(file, 0, out), true);
    assert.ok(out.equals(fill(4096, 3)));
    const before = file.status();
    assert.equal(tryReadNow(file, 0, Buffer.alloc(2 * MiB)), false, "past the synchronous size");
    assert.deepEqual(file.status(), before);
  } finally {
    await file.close();
  }
  const diskPath = join(await directTestDir(), "now-disk.img");
  dirs.push(diskPath);
  const disk = await FileDevice.create(diskPath, MiB);
  try {
    assert.equal(disk.memoryBacked, false);
    assert.equal(tryReadNow(disk, 0, Buffer.alloc(4096)), false, "disk reads go through the threadpool");
    assert.equal(disk.status().reads, 0);
  } finally {
    await disk.close();
  }
});

test("a layer without a fast path refuses even over memory; the promise path still works", async () => {
  const layer = new PlainLayer(new MemoryDevice({ sizeBytes: MiB }));
  assert.equal(tryWriteNow(layer, 0, fill(512, 1)), false);
  assert.equal(tryReadNow(layer, 0, Buffer.alloc(512)), false);
  assert.deepEqual([layer.status().reads, layer.status().writes], [0, 0]);
  assert.equal(tryReadNow({}, 0, Buffer.alloc(512)), false, "an object with no fast path at all");
  await layer.write(0, fill(512, 1));
  assert.ok((await readBytes(layer, 0, 512)).equals(fill(512, 1)));
});

test("the replacement tee: reads answer now while armed, writes only while not armed", async () => {
  const old = new MemoryDevice({ sizeBytes: MiB });
  const next = new MemoryDevice({ sizeBytes: MiB });
  const tee = new ReplaceTee(old);
  assert.equal(tryWriteNow(tee, 0, fill(4096, 1)), true, "not armed: straight to main");
  await tee.arm(next, 4096);
  assert.equal(tryWriteNow(tee, 0, fill(4096, 2)), false, "armed: the write must reach both devices");
  assert.ok((await readBytes(old, 0, 4096)).equals(fill(4096, 1)), "a refused write changed nothing");
  const out = Buffer.alloc(4096);
  assert.equal(tryReadNow(tee, 0, out), true);
  assert.ok(out.equals(fill(4096, 1)));
  await tee.write(0, fill(4096, 2));
  assert.ok((await readBytes(next, 0, 4096)).equals(fill(4096, 2)), "the promise path mirrors");
  assert.equal(tee.wasWhollyWritten(0), true);
  await tee.disarm();
  assert.equal(tryWriteNow(tee, 0, fill(4096, 3)), true, "disarmed: fast again");
  assert.ok((await readBytes(old, 0, 4096)).equals(fill(4096, 3)));
  await tee.close();
});
