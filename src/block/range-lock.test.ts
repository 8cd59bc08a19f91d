// Unit tests of RangeLock: overlapping holders wait in arrival order, disjoint ones never wait.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RangeLock } from "./range-lock.js";

describe("RangeLock", () => {
  it("lets disjoint ranges hold at once", async () => {
    const lock = new RangeLock();
    const a = await lock.acquire(0, 4);
    const b = await lock.acquire(4, 8);
    assert.equal(lock.size, 2);
    a();
    b();
    assert.equal(lock.size, 0);
  });

  it("makes overlapping ranges wait for earlier holders, in arrival order", async () => {
    const lock = new RangeLock();
    const events: string[] = [];
    const first = await lock.acquire(0, 10);
    const second = lock.acquire(5, 6).then((release) => {
      events.push("second");
      release();
    });
    const third = lock.acquire(9, 12).then((release) => {
      events.push("third");
      release();
    });
    // An uninvolved range passes while the others wait.
    (await lock.acquire(20, 30))();
    events.push("disjoint");
    assert.deepEqual(events, ["disjoint"]);
    events.push("first releases");
    first();
    await Promise.all([second, third]);
    assert.deepEqual(events, ["disjoint", "first releases", "second", "third"]);
    assert.equal(lock.size, 0);
  });

  it("queues a later overlapping request behind an earlier waiter (no overtaking)", async () => {
    const lock = new RangeLock();
    const events: string[] = [];
    const held = await lock.acquire(0, 2);
    const wide = lock.with(1, 5, async () => void events.push("wide"));
    const narrow = lock.with(3, 4, async () => void events.push("narrow"));
    held();
    await Promise.all([wide, narrow]);
    assert.deepEqual(events, ["wide", "narrow"]);
  });

  it("releases once even if called twice, and refuses empty ranges", async () => {
    const lock = new RangeLock();
    const release = await lock.acquire(0, 1);
    const other = await lock.acquire(1, 2);
    release();
    release();
    assert.equal(lock.size, 1);
    other();
    await assert.rejects(lock.acquire(3, 3), /range lock \[3, 3\) is empty/);
  });
});
