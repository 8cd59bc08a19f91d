// The guard's batch locks (a drain batch as one sorted entry): they read like per-block locks to
// user I/O (get / has / firstLocked), wait for a block's holder and for overlapping registered I/O
// before they hold, and a single-block lock of a batch block waits for the whole batch.
import { test } from "node:test";
import assert from "node:assert/strict";
import { BlockGuard } from "./block-guard.js";

test("a batch lock reads as a lock of each of its blocks, and only of those", async () => {
  const guard = new BlockGuard();
  const unlock = await guard.lockMany([3, 5, 9, 40]);
  assert.equal(guard.locks.size, 4);
  for (const block of [3, 5, 9, 40]) assert.ok(guard.locks.has(block), `block ${block}`);
  for (const block of [0, 4, 6, 10, 39, 41]) assert.equal(guard.locks.has(block), false, `block ${block}`);
  assert.equal(guard.firstLocked(0, 100), 3);
  assert.equal(guard.firstLocked(4, 8), 5);
  assert.equal(guard.firstLocked(6, 8), -1);
  assert.equal(guard.firstLocked(10, 45), 40);
  unlock();
  assert.equal(guard.locks.size, 0);
  assert.equal(guard.firstLocked(0, 100), -1);
});

test("a single-block lock of a batch block waits for the batch; a batch waits for a block's holder", async () => {
  const guard = new BlockGuard();
  const order: string[] = [];
  const unlockBatch = await guard.lockMany([1, 2, 3]);
  const single = guard.withLock(2, async () => void order.push("single"));
  const outside = guard.withLock(4, async () => void order.push("outside"));
  await outside;
  await Promise.resolve();
  assert.deepEqual(order, ["outside"]);
  order.push("batch released");
  unlockBatch();
  await single;
  assert.deepEqual(order, ["outside", "batch released", "single"]);

  let releaseSingle!: () => void;
  const holding = guard.withLock(
    7,
    () => new Promise<void>((resolve) => (releaseSingle = () => resolve(void order.push("single 7 done")))),
  );
  await Promise.resolve();
  const batch = guard.lockMany([6, 7, 8]).then((unlock) => {
    order.push("batch 6-8 held");
    return unlock;
  });
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(order.includes("batch 6-8 held"), false);
  // Nothing of the waiting batch is held meanwhile: block 6 stays free for others.
  assert.equal(guard.locks.has(6), false);
  releaseSingle();
  await holding;
  (await batch)();
  assert.deepEqual(order.slice(-2), ["single 7 done", "batch 6-8 held"]);
  assert.equal(guard.locks.size, 0);
});

test("a batch lock waits for registered I/O on its blocks, not for I/O beside them", async () => {
  const guard = new BlockGuard();
  const beside = guard.register(21, 29);
  await (
    await guard.lockMany([5, 20])
  )();
  const under = guard.register(12, 14);
  let held = false;
  const batch = guard.lockMany([11, 13, 30]).then((unlock) => {
    held = true;
    return unlock;
  });
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(held, false);
  guard.release(under);
  (await batch)();
  assert.equal(held, true);
  guard.release(beside);
  assert.equal(guard.activeCount, 0);
});
