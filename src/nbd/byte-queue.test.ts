// The receive queue returns exactly the stream's bytes under any chunking (seeded random splits).
import { test } from "node:test";
import assert from "node:assert/strict";
import { ByteQueue } from "./byte-queue.js";
import { prng } from "./test-support.js";

test("take/peek/frame/skip/takeInto reproduce the stream under random chunking", () => {
  const rand = prng(42);
  for (let round = 0; round < 200; round++) {
    const stream = Buffer.alloc(1 + Math.floor(rand() * 5000));
    for (let i = 0; i < stream.length; i++) stream[i] = Math.floor(rand() * 256);
    const q = new ByteQueue();
    let pushed = 0;
    let consumed = 0;
    while (consumed < stream.length) {
      if (pushed < stream.length && (q.length === 0 || rand() < 0.5)) {
        const n = Math.min(stream.length - pushed, 1 + Math.floor(rand() * (rand() < 0.3 ? 3 : 700)));
        q.push(Buffer.from(stream.subarray(pushed, pushed + n)));
        pushed += n;
        continue;
      }
      const n = 1 + Math.floor(rand() * q.length);
      const expect = stream.subarray(consumed, consumed + n);
      const op = Math.floor(rand() * 5);
      if (op === 0) assert.deepEqual(q.take(n), expect);
      else if (op === 4) {
        const at = q.frame(n);
        assert.deepEqual(q.frameChunk.subarray(at, at + n), expect);
        assert.equal(q.skip(n), n);
      } else if (op === 1) {
        assert.deepEqual(q.peek(n), expect);
        assert.equal(q.skip(n), n);
      } else if (op === 2) {
        const target = Buffer.alloc(n);
        q.takeInto(target);
        assert.deepEqual(target, expect);
      } else assert.equal(q.skip(n), n);
      consumed += n;
      assert.equal(q.length, pushed - consumed);
    }
  }
});

test("byte-by-byte pushes and a drain return everything left", () => {
  const q = new ByteQueue();
  for (const b of Buffer.from("hello world")) q.push(Buffer.from([b]));
  assert.equal(q.take(5).toString(), "hello");
  assert.equal(q.skip(100), 6);
  q.push(Buffer.from("abc"));
  q.skip(1);
  assert.equal(Buffer.concat(q.drain()).toString(), "bc");
  assert.equal(q.length, 0);
});

test("borrowed chunks: bytes left at release survive the reuse of the borrowed memory", () => {
  const rand = prng(7);
  for (let round = 0; round < 100; round++) {
    const stream = Buffer.alloc(1 + Math.floor(rand() * 5000));
    for (let i = 0; i < stream.length; i++) stream[i] = Math.floor(rand() * 256);
    const q = new ByteQueue();
    const reused = Buffer.alloc(800);
    const taken: Buffer[] = [];
    let pushed = 0;
    let consumed = 0;
    while (consumed < stream.length) {
      const n = Math.min(stream.length - pushed, 1 + Math.floor(rand() * 700));
      stream.copy(reused, 0, pushed, pushed + n);
      q.pushBorrowed(reused.subarray(0, n));
      pushed += n;
      // Consume a random part, keeping what take() returned past the release.
      while (q.length > 0 && rand() < 0.6) {
        const k = 1 + Math.floor(rand() * q.length);
        if (rand() < 0.5) taken.push(q.take(k));
        else {
          const target = Buffer.alloc(k);
          q.takeInto(target);
          taken.push(target);
        }
        consumed += k;
      }
      q.release();
      reused.fill(0xee);
      if (pushed === stream.length && q.length > 0) {
        taken.push(q.take(q.length));
        consumed = stream.length;
      }
    }
    assert.deepEqual(Buffer.concat(taken), stream);
  }
});

test("contiguous: a view of the next bytes inside one chunk, nothing when they span chunks", () => {
  const q = new ByteQueue();
  assert.equal(q.contiguous(1), undefined, "empty");
  q.push(Buffer.from([1, 2, 3, 4]));
  q.push(Buffer.from([5, 6]));
  q.skip(1);
  const view = q.contiguous(3)!;
  assert.deepEqual([...view], [2, 3, 4]);
  assert.equal(q.length, 5, "nothing consumed");
  assert.equal(q.contiguous(4), undefined, "spans two chunks");
  assert.deepEqual([...q.take(5)], [2, 3, 4, 5, 6], "the queue is unchanged by the look");
});
