// Unit tests of FileDevice's memory-backed path (files on tmpfs are read synchronously up to 32 KiB,
// written up to 128 KiB, and read and written up to 1 MiB for background copies): detection, data round trips on
// both paths, errors unchanged.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, rm, statfs, truncate } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { tryBulkReadNow, tryBulkWriteNow } from "./answer-now.js";
import { readBytes } from "./base-device.js";
import { MediumError } from "./errors.js";
import {
  BULK_IO_MAX_BYTES,
  FileDevice,
  MEMORY_WRITE_SYNC_MAX_BYTES,
  SYNC_IO_MAX_BYTES,
} from "./file-device.js";
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

  it("answers a background copy's read of up to 1 MiB now in one call, counted; refuses past it", async (t) => {
    const device = await FileDevice.create(join(dir, "bulk.img"), 4 << 20);
    if (!device.memoryBacked) {
      await device.close();
      t.skip(`${base} is not tmpfs here`);
      return;
    }
    const big = randomBytes(6, BULK_IO_MAX_BYTES);
    await device.write(8192, big);
    const before = device.status();
    const into = Buffer.alloc(BULK_IO_MAX_BYTES);
    assert.equal(device.tryBulkReadNow(8192, into), true);
    assert.deepEqual(into, big);
    assert.equal(device.status().reads - before.reads, 1, "one request");
    assert.equal(device.status().bytesRead - before.bytesRead, big.length);
    // Larger than 1 MiB, past the end, or at a bad offset: refused with nothing counted.
    assert.equal(device.tryBulkReadNow(0, Buffer.alloc(BULK_IO_MAX_BYTES + 4096)), false);
    assert.equal(device.tryBulkReadNow((4 << 20) - 4096, Buffer.alloc(8192)), false);
    assert.equal(device.tryBulkReadNow(-4096, Buffer.alloc(4096)), false);
    assert.equal(device.status().reads - before.reads, 1);
    // tryBulkReadNow() of answer-now.ts: one call here, pieces of the served fast path elsewhere.
    const again = Buffer.alloc(64 * 1024);
    assert.equal(tryBulkReadNow(device, 8192, again, SYNC_IO_MAX_BYTES), true);
    assert.deepEqual(again, big.subarray(0, again.length));
    assert.equal(device.status().reads - before.reads, 2);
    await device.close();
    assert.equal(device.tryBulkReadNow(8192, Buffer.alloc(4096)), false, "closed");
  });

  it("answers a background copy's write of up to 1 MiB now in one call, counted; refuses past it", async (t) => {
    const path = join(dir, "bulk-write.img");
    const device = await FileDevice.create(path, 4 << 20);
    if (!device.memoryBacked) {
      await device.close();
      t.skip(`${base} is not tmpfs here`);
      return;
    }
    const big = randomBytes(7, BULK_IO_MAX_BYTES);
    // A served write this large is refused by the fast path (it goes to the threadpool)...
    assert.equal(device.tryWriteNow(8192, big), false);
    const before = device.status();
    // ...while a background copy writes it now, in one call.
    assert.equal(device.tryBulkWriteNow(8192, big), true);
    assert.equal(device.status().writes - before.writes, 1, "one request");
    assert.equal(device.status().bytesWritten - before.bytesWritten, big.length);
    assert.deepEqual(await readBytes(device, 8192, big.length), big);
    // Larger than 1 MiB, past the end, at a bad offset or empty: refused with nothing written.
    assert.equal(device.tryBulkWriteNow(0, randomBytes(8, BULK_IO_MAX_BYTES + 4096)), false);
    assert.equal(device.tryBulkWriteNow((4 << 20) - 4096, randomBytes(9, 8192)), false);
    assert.equal(device.tryBulkWriteNow(-4096, randomBytes(10, 4096)), false);
    assert.equal(device.tryBulkWriteNow(0, new Uint8Array(0)), false);
    assert.equal(device.status().writes - before.writes, 1);
    assert.deepEqual(await readBytes(device, 8192, big.length), big, "nothing written by a refusal");
    // tryBulkWriteNow() of answer-now.ts: one call here, the served fast path elsewhere.
    const small = randomBytes(11, 64 * 1024);
    assert.equal(tryBulkWriteNow(device, 0, small), true);
    await device.close();
    assert.equal(device.tryBulkWriteNow(8192, small), false, "closed");
    const readOnly = await FileDevice.open(path, { readOnly: true });
    assert.equal(readOnly.tryBulkWriteNow(0, small), false, "read-only");
    await readOnly.close();
  });

  it("refuses a background copy's bulk read and write on a file on disk (its reads may wait on the device)", async (t) => {
    const onDisk = await mkdtemp(join(tmpdir(), "dmremap-bulk-"));
    try {
      const device = await FileDevice.create(join(onDisk, "disk.img"), 1 << 20);
      if (device.memoryBacked) {
        await device.close();
        t.skip(`${tmpdir()} is tmpfs here`);
        return;
      }
      assert.equal(device.tryBulkReadNow(0, Buffer.alloc(64 * 1024)), false);
      assert.equal(device.tryBulkWriteNow(0, Buffer.alloc(64 * 1024)), false);
      await device.close();
    } finally {
      await rm(onDisk, { recursive: true, force: true });
    }
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
