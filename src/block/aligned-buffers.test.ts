// Unit tests of AlignedBufferPool: sizes, reuse, the cap with FIFO waiters, growth without detaching.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  ALIGNED_CHUNK_BYTES,
  AlignedBufferCache,
  AlignedBufferPool,
  allocateAligned,
  directIoBuffers,
  isMemoryAligned,
} from "./aligned-buffers.js";

describe("AlignedBufferPool", () => {
  it("hands out chunk-sized views of WebAssembly memory and reuses released ones", async () => {
    const pool = new AlignedBufferPool({ chunkBytes: 8192, maxChunks: 4, chunksPerMemory: 2 });
    const a = await pool.acquire();
    assert.equal(a.length, 8192);
    assert.ok(a.buffer instanceof ArrayBuffer && a.byteOffset % 4096 === 0);
    assert.deepEqual(pool.stats(), { chunks: 2, inUse: 1, waiting: 0, memories: 1 });
    pool.release(a);
    assert.equal(await pool.acquire(), a, "a released chunk is reused before allocating");
    assert.equal(directIoBuffers.chunkBytes, ALIGNED_CHUNK_BYTES);
  });

  it("grows by adding memories, never detaching chunks already handed out", async () => {
    const pool = new AlignedBufferPool({ chunkBytes: 4096, maxChunks: 5, chunksPerMemory: 2 });
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < 5; i++) chunks.push(await pool.acquire());
    chunks.forEach((c, i) => c.fill(i + 1));
    assert.deepEqual(pool.stats(), { chunks: 5, inUse: 5, waiting: 0, memories: 3 });
    chunks.forEach((c, i) => {
      assert.equal(c.length, 4096, `chunk ${i} is still attached`);
      assert.ok(
        c.every((b) => b === i + 1),
        `chunk ${i} kept its bytes`,
      );
    });
    const buffers = [...new Set(chunks.map((c) => c.buffer))];
    assert.equal(buffers.length, 3, "one Memory per two chunks");
    const places = new Set(chunks.map((c) => `${buffers.indexOf(c.buffer)}:${c.byteOffset}`));
    assert.equal(places.size, 5, "no two chunks share bytes");
  });

  it("at its cap makes acquirers wait, serving them in arrival order", async () => {
    const pool = new AlignedBufferPool({ chunkBytes: 4096, maxChunks: 1 });
    const held = await pool.acquire();
    const order: number[] = [];
    const waiting = [1, 2, 3].map((n) =>
      pool.acquire().then((chunk) => {
        order.push(n);
        pool.release(chunk);
      }),
    );
    assert.equal(pool.stats().waiting, 3);
    pool.release(held);
    await Promise.all(waiting);
    assert.deepEqual(order, [1, 2, 3]);
    assert.deepEqual(pool.stats(), { chunks: 1, inUse: 0, waiting: 0, memories: 1 });
  });

  it("runs a body with a chunk and releases it even when the body fails", async () => {
    const pool = new AlignedBufferPool({ chunkBytes: 4096, maxChunks: 1 });
    await assert.rejects(
      pool.with(() => Promise.reject(new Error("boom"))),
      /boom/,
    );
    assert.equal(await pool.with(async (chunk) => chunk.length), 4096);
    assert.equal(pool.stats().inUse, 0);
  });

  it("rejects bad options and foreign buffers, naming the value", async () => {
    assert.throws(
      () => new AlignedBufferPool({ chunkBytes: 1000 }),
      /chunk size 1000 is not a multiple of 4096/,
    );
    assert.throws(() => new AlignedBufferPool({ maxChunks: 0 }), /chunk cap 0 is not a positive integer/);
    const pool = new AlignedBufferPool({ chunkBytes: 4096 });
    assert.throws(() => pool.release(new Uint8Array(4096)), /not a chunk of this pool/);
    const chunk = await pool.acquire();
    assert.throws(() => pool.release(chunk.subarray(0, 512)), /not a chunk of this pool/);
  });
});

describe("allocateAligned / isMemoryAligned", () => {
  it("knows the alignment of its own memory only, at aligned byte offsets", async () => {
    const buffer = allocateAligned(10000);
    assert.equal(buffer.length, 10000);
    assert.ok(buffer.every((b) => b === 0));
    assert.ok(isMemoryAligned(buffer, 4096));
    assert.ok(isMemoryAligned(buffer.subarray(4096), 4096));
    assert.ok(isMemoryAligned(buffer.subarray(512), 512));
    assert.ok(!isMemoryAligned(buffer.subarray(512), 4096));
    assert.ok(!isMemoryAligned(buffer, 8192), "only 4096 is guaranteed");
    assert.ok(!isMemoryAligned(new Uint8Array(4096), 512), "ordinary memory is never assumed aligned");
    assert.ok(isMemoryAligned(await new AlignedBufferPool({ chunkBytes: 4096 }).acquire(), 4096));
    assert.throws(() => allocateAligned(0), /aligned buffer size 0 is not an integer in 1\.\.1 GiB/);
  });
});

describe("AlignedBufferCache", () => {
  it("hands back kept buffers of the same size and keeps no more than its cap", () => {
    const cache = new AlignedBufferCache(12288);
    const a = cache.take(8192);
    const b = cache.take(8192);
    assert.notEqual(a, b);
    assert.ok(isMemoryAligned(a, 4096) && isMemoryAligned(b, 4096));
    cache.give(a);
    cache.give(b); // 16384 would pass the cap: dropped
    assert.equal(cache.bytes, 8192);
    assert.notEqual(cache.take(4096), a, "sizes are not mixed");
    assert.equal(cache.take(8192), a);
    assert.equal(cache.bytes, 0);
    cache.give(new Uint8Array(4096));
    assert.equal(cache.bytes, 0, "memory that is not aligned is never kept");
  });
});
