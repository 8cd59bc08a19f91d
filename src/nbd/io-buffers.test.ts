// Unit tests of IoBuffers: slab slices never overlap, large buffers are reused only after recycle().
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { IoBuffers } from "./io-buffers.js";

describe("IoBuffers", () => {
  it("hands out disjoint slab slices for small replies", () => {
    const pool = new IoBuffers();
    const bufs = Array.from({ length: 200 }, (_, i) => pool.take(4096 + 16 + (i % 3)));
    bufs.forEach((b, i) => b.fill(i % 251));
    bufs.forEach((b, i) =>
      assert.ok(
        b.every((x) => x === i % 251),
        `slice ${i} was overwritten`,
      ),
    );
    assert.equal(pool.recyclable(bufs[0]!), false);
  });

  it("reuses a large buffer only after it was recycled", () => {
    const pool = new IoBuffers();
    const a = pool.take(1 << 20);
    const b = pool.take(1 << 20);
    assert.notEqual(a.buffer, b.buffer);
    assert.equal(pool.recyclable(a), true);
    pool.recycle(a);
    assert.equal(pool.take(1 << 20), a);
    assert.notEqual(pool.take(1 << 20), a);
    assert.equal(pool.take((1 << 20) + 512).length, (1 << 20) + 512);
    assert.equal(pool.pooledSize(1 << 20), true);
    assert.equal(pool.pooledSize(4096), false);
  });

  it("keeps at most 16 pooled buffers and never pools huge ones", () => {
    const pool = new IoBuffers();
    const many = Array.from({ length: 20 }, () => pool.take(65536));
    for (const b of many) pool.recycle(b);
    const again = new Set(Array.from({ length: 20 }, () => pool.take(65536)));
    assert.equal(many.filter((b) => again.has(b)).length, 16);
    assert.equal(pool.recyclable(Buffer.alloc(16 << 20)), false);
  });
});
