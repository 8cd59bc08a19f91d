import { test } from "node:test";
import assert from "node:assert/strict";
import { OP_READ, OP_WRITE, REQUEST_OPS, RequestTimes } from "./request-times.js";

test("a batch records operation codes and durations until full, then starts afresh", () => {
  const times = new RequestTimes(3);
  assert.equal(times.add(OP_READ, 0.001), false);
  assert.equal(times.add(OP_WRITE, 0.002), false);
  assert.equal(times.add(REQUEST_OPS.indexOf("zero"), 0.5), true, "full");
  assert.deepEqual([...times.ops], [0, 1, 4]);
  assert.deepEqual([...times.seconds], [0.001, 0.002, 0.5]);
  times.clear();
  assert.equal(times.count, 0);
  assert.equal(times.add(OP_WRITE, 1), false);
  assert.equal(times.count, 1);
  assert.equal(REQUEST_OPS[OP_READ], "read");
  assert.equal(REQUEST_OPS[OP_WRITE], "write");
});
