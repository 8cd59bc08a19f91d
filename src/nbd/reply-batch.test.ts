// The reply batch: reservations side by side, an unused one given back, take() hands out the filled
// part and starts afresh, a released buffer is reused, sizes outside the batch are refused, simple
// replies are appended in place.
import { test } from "node:test";
import assert from "node:assert/strict";
import { REPLY_BATCH_MAX_REPLY_BYTES, ReplyBatch } from "./reply-batch.js";
import { SIMPLE_REPLY_MAGIC } from "./protocol.js";

function decodeSimpleReply(b: Buffer): { errno: number; cookieHi: number; cookieLo: number } {
  assert.equal(b.readUInt32BE(0), SIMPLE_REPLY_MAGIC);
  return { errno: b.readUInt32BE(4), cookieHi: b.readUInt32BE(8), cookieLo: b.readUInt32BE(12) };
}

test("reservations lie side by side; take() returns them in order and starts afresh", () => {
  const batch = new ReplyBatch(64);
  assert.equal(batch.take(), undefined, "an empty batch has nothing to write");
  batch.reserve(16).fill(1);
  batch.reserve(8).fill(2);
  batch.reserve(4);
  batch.unreserve(4);
  assert.equal(batch.pendingBytes, 24);
  const out = batch.take()!;
  assert.deepEqual([...out.data], [...Array(16).fill(1), ...Array(8).fill(2)]);
  assert.equal(batch.pendingBytes, 0);
  batch.reserve(8).fill(3);
  assert.deepEqual([...out.data.subarray(0, 8)], Array(8).fill(1), "taken replies are not overwritten");
});

test("a full batch refuses more; a released buffer is used again", () => {
  const batch = new ReplyBatch(32);
  batch.reserve(32);
  assert.equal(batch.fits(1), false);
  assert.throws(() => batch.reserve(1), /does not fit/);
  const first = batch.take()!;
  first.release();
  batch.reserve(32);
  const second = batch.take()!;
  assert.notEqual(second.data.buffer, first.data.buffer, "the fresh buffer after the first take");
  batch.reserve(32);
  assert.equal(batch.take()!.data.buffer, first.data.buffer, "the released buffer came back");
  assert.equal(ReplyBatch.takes(0), false);
  assert.equal(ReplyBatch.takes(REPLY_BATCH_MAX_REPLY_BYTES), true);
  assert.equal(ReplyBatch.takes(REPLY_BATCH_MAX_REPLY_BYTES + 1), false);
});

test("a simple reply appended in place lies after the reservations before it", () => {
  const batch = new ReplyBatch(40);
  batch.reserve(8).fill(7);
  batch.appendSimpleReply(0, 0x01020304, 0x05060708);
  batch.appendSimpleReply(5, 0, 9);
  assert.equal(batch.fits(1), false);
  assert.throws(() => batch.appendSimpleReply(0, 0, 1), /does not fit/);
  const out = batch.take()!.data;
  assert.equal(out.length, 40);
  assert.deepEqual([...out.subarray(0, 8)], Array(8).fill(7));
  assert.deepEqual(decodeSimpleReply(out.subarray(8, 24)), {
    errno: 0,
    cookieHi: 0x01020304,
    cookieLo: 0x05060708,
  });
  assert.deepEqual(decodeSimpleReply(out.subarray(24, 40)), { errno: 5, cookieHi: 0, cookieLo: 9 });
});
