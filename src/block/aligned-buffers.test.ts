// Unit tests of AlignedBufferPool: sizes, reuse, the cap with FIFO waiters, growth without detaching.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ALIGNED_CHUNK_BYTES, AlignedBufferPool, directIoBuffers } from "./aligned-buffers.js";

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
