// Unit tests of IoBuffers: slab slices never overlap, data buffers are reused only after recycling.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { IoBuffers } from "./io-buffers.js";

describe("IoBuffers", () => {
  it("hands out disjoint slab slices for tiny replies", () => {
    const pool = new IoBuffers();
    const bufs = Array.from({ length: 5000 }, (_, i) => pool.take(16 + (i % 40)));
    bufs.forEach((b, i) => b.fill(i % 251));
    bufs.forEach((b, i) =>
      assert.ok(
        b.every((x) => x === i % 251),
        `slice ${i} was overwritten`,
      ),
    );
    assert.equal(pool.take(4096).length, 4096);
  });

  it("reuses a data buffer of the same size only after recyclePayload()", () => {
    const pool = new IoBuffers();
    const a = pool.takePayload(4096);
    const b = pool.takePayload(4096);
    assert.notEqual(a.buffer, b.buffer);
    pool.recyclePayload(a);
    assert.equal(pool.takePayload(4096), a);
    assert.notEqual(pool.takePayload(4096), a);
    assert.equal(pool.takePayload(4096 + 512).length, 4096 + 512);
    assert.equal(pool.takePayload(0).length, 0);
  });

  it("keeps at most 16 MiB of free buffers and never pools huge ones", () => {
    const pool = new IoBuffers();
    const many = Array.from({ length: 20 }, () => pool.takePayload(1 << 20));
    for (const b of many) pool.recyclePayload(b);
    const again = new Set(Array.from({ length: 20 }, () => pool.takePayload(1 << 20)));
    assert.equal(many.filter((b) => again.has(b)).length, 16);
    const huge = pool.takePayload(16 << 20);
    pool.recyclePayload(huge);
    assert.notEqual(pool.takePayload(16 << 20), huge);
  });
});
