// The user I/O pacer: busy once the set's user request count moves or a request waited, for the hold
// time after the last sign; idle again after it; a count that stands still never makes it busy.
import { test } from "node:test";
import assert from "node:assert/strict";
import { USER_IO_HOLD_MS, UserIoPacer } from "./user-io-pacer.js";

test("busy from a user request until the hold time after the last one", () => {
  const set = { userIoCount: 7 };
  let nowMs = 0;
  const pacer = new UserIoPacer(set, () => nowMs);
  assert.equal(pacer.busy(), false, "requests before the pacer was made do not count");
  nowMs = 5000;
  assert.equal(pacer.busy(), false, "a count that stands still");
  set.userIoCount++;
  assert.equal(pacer.busy(), true, "a request started");
  nowMs += USER_IO_HOLD_MS - 1;
  assert.equal(pacer.busy(), true, "within the hold time");
  set.userIoCount++;
  assert.equal(pacer.busy(), true, "another request: the hold starts again");
  nowMs += USER_IO_HOLD_MS - 1;
  assert.equal(pacer.busy(), true, "the hold runs from the last request seen");
  nowMs += 1;
  assert.equal(pacer.busy(), false, "idle once the hold has passed");
});

test("a request that waited for the copy makes it busy for the hold time", () => {
  let nowMs = 100;
  const pacer = new UserIoPacer({ userIoCount: 0 }, () => nowMs, 50);
  pacer.contended();
  assert.equal(pacer.busy(), true);
  nowMs = 150;
  assert.equal(pacer.busy(), false);
  assert.throws(() => new UserIoPacer({ userIoCount: 0 }, () => 0, -1), /hold of -1 ms/);
});
