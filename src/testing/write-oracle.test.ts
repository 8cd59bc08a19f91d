// WriteOracle: what it allows after a crash (flushed, FUA, unflushed, unknown sectors) and live.
import { test } from "node:test";
import assert from "node:assert/strict";
import { WriteOracle } from "./write-oracle.js";

const bytes = (n: number, v: number) => new Uint8Array(n).fill(v);

test("flushed data must read back; unflushed data may be old or new, nothing else", () => {
  const o = new WriteOracle(2048);
  const a = o.begin(0, bytes(1024, 1));
  o.ack(a, false);
  o.ackFlush(o.beginFlush());
  const b = o.begin(512, bytes(512, 2));
  o.ack(b, false);
  assert.equal(o.checkAfterCrash(0, bytes(512, 1)), undefined);
  assert.equal(o.checkAfterCrash(512, bytes(512, 2)), undefined);
  assert.equal(o.checkAfterCrash(512, bytes(512, 1)), undefined);
  assert.match(o.checkAfterCrash(0, bytes(512, 0)) ?? "", /flushed value 1/);
  assert.match(o.checkAfterCrash(512, bytes(512, 3)) ?? "", /byte 512/);
  assert.equal(o.checkLive(512, bytes(512, 2)), undefined);
  assert.match(o.checkLive(512, bytes(512, 1)) ?? "", /last write has 2/);
  assert.equal(o.mayFailAfterCrash(0, 2048), false);
});

test("a FUA write hides older unflushed data, also from a flush issued before it", () => {
  const o = new WriteOracle(1024);
  const a = o.begin(0, bytes(1024, 1));
  o.ack(a, false);
  const token = o.beginFlush();
  const b = o.begin(0, bytes(512, 2));
  o.ack(b, true);
  o.ackFlush(token);
  assert.equal(o.volatileWrites.length, 0);
  assert.equal(o.checkAfterCrash(0, bytes(512, 2)), undefined);
  assert.match(o.checkAfterCrash(0, bytes(512, 1)) ?? "", /flushed value 2/);
  assert.equal(o.checkAfterCrash(512, bytes(512, 1)), undefined);
});

test("unknown sectors may fail until one write covers them whole; their bytes are never invented", () => {
  const o = new WriteOracle(2048, [{ offsetBytes: 0, lengthBytes: 1024 }]);
  assert.equal(o.mayFailLive(0, 1), true);
  assert.equal(o.mayFailLive(1024, 1024), false);
  o.ack(o.begin(100, bytes(200, 5)), true);
  o.ack(o.begin(300, bytes(212, 6)), true);
  assert.equal(o.mayFailAfterCrash(100, 10), true, "sector 0 was never covered by one write");
  o.ack(o.begin(512, bytes(512, 7)), false);
  assert.equal(o.mayFailLive(512, 512), false);
  assert.equal(o.mayFailAfterCrash(512, 512), true, "not flushed yet");
  o.ackFlush(o.beginFlush());
  assert.equal(o.mayFailAfterCrash(512, 512), false);
  const sector0 = bytes(512, 0);
  sector0.fill(5, 100, 300).fill(6, 300, 512);
  assert.match(o.checkAfterCrash(0, sector0) ?? "", /byte 0 .*unknown data/);
  const clone = o.clone();
  o.ack(o.begin(512, bytes(512, 8)), true);
  assert.equal(clone.checkAfterCrash(512, bytes(512, 7)), undefined, "a clone is frozen");
});
