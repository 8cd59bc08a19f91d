// Tests of DirectIo on a real O_DIRECT fd: aligned requests in memory-aligned buffers go in place
// (no bounce chunk is ever taken, data exact), anything else still works through the bounce path.
import assert from "node:assert/strict";
import fs from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { allocateAligned, AlignedBufferPool } from "./aligned-buffers.js";
import { directTestDir } from "./direct-test-dir.js";
import { DirectIo, directIoTotals } from "./direct-io.js";
import { Prng } from "./prng.js";

const FILE_BYTES = 4 << 20;
let files = 0;
const fds: number[] = [];

after(async () => {
  for (const fd of fds) fs.closeSync(fd);
  await rm(await directTestDir(), { recursive: true, force: true });
});

/** A fresh zero-filled file opened O_DIRECT, a DirectIo on it with its own pool, and its path. */
async function subject(alignBytes = 4096): Promise<{ io: DirectIo; pool: AlignedBufferPool; path: string }> {
  const path = join(await directTestDir(), `direct-io-${files++}.img`);
  fs.writeFileSync(path, new Uint8Array(FILE_BYTES));
  const fd = fs.openSync(path, fs.constants.O_RDWR | fs.constants.O_DIRECT);
  fds.push(fd);
  const pool = new AlignedBufferPool({ chunkBytes: 64 << 10, maxChunks: 4 });
  return { io: new DirectIo(fd, path, alignBytes, pool), pool, path };
}

function random(seed: number, bytes: number): Uint8Array {
  const out = new Uint8Array(bytes);
  new Prng(seed).fill(out);
  return out;
}

/** The file's bytes [offset, offset + length) read through the page cache (not through DirectIo). */
function onDisk(path: string, offset: number, length: number): Uint8Array {
  return new Uint8Array(fs.readFileSync(path).subarray(offset, offset + length));
}

describe("DirectIo", () => {
  it("reads and writes aligned requests in memory-aligned buffers in place, with exact data", async () => {
    const { io, pool, path } = await subject();
    const before = directIoTotals();
    // 200 KiB: more than three bounce chunks, so in-place requests also loop over several calls.
    const data = allocateAligned(200 << 10);
    data.set(random(1, data.length));
    await io.write(8192, data);
    const back = allocateAligned(data.length);
    await io.read(8192, back);
    assert.deepEqual(back, data);
    assert.deepEqual(onDisk(path, 8192, data.length), data, "the bytes reached the file");
    // A view at an aligned offset into aligned memory is aligned too.
    const part = back.subarray(4096, 12288);
    part.fill(0);
    await io.read(8192 + 4096, part);
    assert.deepEqual(part, data.subarray(4096, 12288));
    assert.deepEqual(io.stats(), { zeroCopyRequests: 3, bouncedRequests: 0 });
    assert.equal(pool.stats().chunks, 0, "no bounce chunk was ever allocated");
    const after = directIoTotals();
    assert.equal(after.zeroCopyRequests - before.zeroCopyRequests, 3, "the process totals count them");
    assert.equal(after.bouncedRequests - before.bouncedRequests, 0);
  });

  it("bounces memory that is not known to be aligned, and keeps its data exact", async () => {
    const { io, pool, path } = await subject();
    const plain = random(2, 16384);
    await io.write(4096, plain);
    const into = new Uint8Array(16384);
    await io.read(4096, into);
    assert.deepEqual(into, plain);
    // Aligned memory at a byteOffset that is not a multiple of the alignment.
    const shifted = allocateAligned(8192 + 512).subarray(512);
    shifted.set(random(3, shifted.length));
    await io.write(65536, shifted);
    const back = new Uint8Array(shifted.length);
    await io.read(65536, back);
    assert.deepEqual(back, shifted);
    assert.deepEqual(onDisk(path, 65536, shifted.length), shifted);
    assert.deepEqual(io.stats(), { zeroCopyRequests: 0, bouncedRequests: 4 });
    assert.equal(pool.stats().inUse, 0, "every bounce chunk was given back");
  });

  it("bounces aligned memory at an unaligned offset or length, keeping neighbouring bytes", async () => {
    const { io, path } = await subject();
    const base = random(4, 3 * 4096);
    const aligned = allocateAligned(base.length);
    aligned.set(base);
    await io.write(0, aligned);
    const edit = allocateAligned(4096);
    edit.set(random(5, 4096));
    await io.write(1000, edit); // unaligned offset
    await io.write(4096, edit.subarray(0, 1024)); // unaligned length
    const expected = base.slice();
    expected.set(edit, 1000);
    expected.set(edit.subarray(0, 1024), 4096);
    assert.deepEqual(onDisk(path, 0, expected.length), expected);
    const back = allocateAligned(expected.length);
    await io.read(0, back);
    assert.deepEqual(back, expected);
    assert.deepEqual(io.stats(), { zeroCopyRequests: 2, bouncedRequests: 2 });
  });

  it("relies on real alignment: a raw O_DIRECT read into aligned memory works, one byte off fails", async () => {
    const { path } = await subject();
    const fd = fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_DIRECT);
    try {
      const memory = allocateAligned(8192);
      assert.equal(fs.readSync(fd, memory, 0, 4096, 0), 4096);
      assert.throws(() => fs.readSync(fd, memory.subarray(1), 0, 4096, 0), { code: "EINVAL" });
    } finally {
      fs.closeSync(fd);
    }
  });

  it("goes in place with 512-byte alignment for 512-aligned views", async () => {
    const { io, path } = await subject(512);
    const memory = allocateAligned(8192);
    const view = memory.subarray(512, 512 + 1536);
    view.set(random(6, view.length));
    await io.write(1536, view);
    assert.deepEqual(onDisk(path, 1536, view.length), view);
    assert.deepEqual(io.stats(), { zeroCopyRequests: 1, bouncedRequests: 0 });
  });

  it("an in-place request that fails names the device and offset (read past the end)", async () => {
    const { io, path } = await subject();
    const target = allocateAligned(8192);
    await assert.rejects(io.read(FILE_BYTES - 4096, target), (err: Error) => {
      assert.match(err.message, new RegExp(`${path}.*end of file`));
      return true;
    });
  });
});
