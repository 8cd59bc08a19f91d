// Unit tests of FileDevice's memory-backed path (files on tmpfs are read and written synchronously
// up to 32 KiB): detection, data round trips on both paths, errors unchanged.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, rm, statfs, truncate } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { readBytes } from "./base-device.js";
import { MediumError } from "./errors.js";
import { FileDevice, MEMORY_WRITE_SYNC_MAX_BYTES, SYNC_IO_MAX_BYTES } from "./file-device.js";
import { Prng } from "./prng.js";

const TMPFS_MAGIC = 0x01021994;
// /dev/shm is tmpfs on every Linux we run on; fall back to the temp dir elsewhere.
const base = existsSync("/dev/shm") ? "/dev/shm" : tmpdir();
let dir = "";
before(async () => {
  dir = await mkdtemp(join(base, "dmremap-memfile-"));
});
after(() => rm(dir, { recursive: true, force: true }));

function randomBytes(seed: number, n: number): Buffer {
  const rng = new Prng(seed);
  const buf = Buffer.alloc(n);
  for (let i = 0; i < n; i++) buf[i] = Math.floor(rng.next() * 256);
  return buf;
}

describe("FileDevice on a memory file system", () => {
  it("reports memoryBacked exactly when the file lives on tmpfs", async () => {
    const device = await FileDevice.create(join(dir, "detect.img"), 1 << 20);
    const onTmpfs = Number((await statfs(dir)).type) === TMPFS_MAGIC;
    assert.equal(device.memoryBacked, onTmpfs);
    assert.equal(device.status()["memoryBacked"], onTmpfs);
    await device.close();
  });

  it("round-trips small (synchronous) and large (threadpool) requests at odd offsets", async () => {
    const device = await FileDevice.create(join(dir, "data.img"), 4 << 20);
    const small = randomBytes(1, 4096);
    const edge = randomBytes(2, 32 * 1024);
    const large = randomBytes(3, 1 << 20);
    await device.write(512, small);
    await device.write(8192 + 512, edge);
    await device.write(2 << 20, large);
    assert.deepEqual(await readBytes(device, 512, small.length), small);
    assert.deepEqual(await readBytes(device, 8192 + 512, edge.length), edge);
    assert.deepEqual(await readBytes(device, 2 << 20, large.length), large);
    // A read spanning both writes sees both.
    const span = await readBytes(device, 0, 8192 + 512 + edge.length);
    assert.deepEqual(span.subarray(512, 512 + small.length), small);
    assert.deepEqual(span.subarray(8192 + 512), edge);
    await device.write(0, small, { fua: true });
    assert.deepEqual(await readBytes(device, 0, small.length), small);
    await device.close();
  });

  it("answers memory-backed writes up to MEMORY_WRITE_SYNC_MAX_BYTES now, reads up to SYNC_IO_MAX_BYTES", async (t) => {
    const device = await FileDevice.create(join(dir, "now.img"), 4 << 20);
    if (!device.memoryBacked) {
      await device.close();
      t.skip(`${base} is not tmpfs here`);
      return;
    }
    const big = randomBytes(4, MEMORY_WRITE_SYNC_MAX_BYTES);
    assert.equal(device.tryWriteNow(4096, big), true);
    assert.equal(device.tryWriteNow(0, randomBytes(5, MEMORY_WRITE_SYNC_MAX_BYTES + 4096)), false);
    assert.deepEqual(await readBytes(device, 4096, big.length), big);
    const into = Buffer.alloc(SYNC_IO_MAX_BYTES);
    assert.equal(device.tryReadNow(4096, into), true);
    assert.deepEqual(into, big.subarray(0, SYNC_IO_MAX_BYTES));
    assert.equal(device.tryReadNow(4096, Buffer.alloc(SYNC_IO_MAX_BYTES + 512)), false);
    await device.close();
  });

  it("fails a read past a truncated end with a MediumError on both paths", async () => {
    const path = join(dir, "short.img");
    const device = await FileDevice.create(path, 1 << 20);
    await truncate(path, 64 * 1024);
    for (const length of [4096, 256 * 1024]) {
      await assert.rejects(readBytes(device, 512 * 1024, length), (e: unknown) => {
        assert.ok(e instanceof MediumError);
        assert.match(e.message, /unexpected end of file at offset 524288/);
        return true;
      });
    }
    await device.close();
  });
});
