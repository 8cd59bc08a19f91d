// Promise tests 1-4 of docs/SEMANTICS.md: never fabricate, absorb write errors, contain read
// errors, do not burn spares on transient errors.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readBytes } from "../block/base-device.js";
import { MediumError } from "../block/errors.js";
import { makeRig, pattern } from "./testing/rig.js";

const BS = 4096;

test("promise 1: never fabricate data: pending blocks, lost sectors and reused slots read as EIO, never zeros or stale bytes", async () => {
  const rig = makeRig({ spareSlots: [1], policy: { retryPendingReads: false } });
  const { dev, main } = rig;
  // A block that cannot be read: EIO, and it stays EIO (pending) even once main reads "fine" again.
  await dev.write(5 * BS, pattern(BS, 1));
  main.breakBlock(5, BS, { reads: true });
  await assert.rejects(dev.read(5 * BS, new Uint8Array(BS)), MediumError);
  main.badReads.clear();
  await assert.rejects(dev.read(5 * BS + 100, new Uint8Array(10)), MediumError);
  // A partial write to the pending block: written sectors read back, the unknown rest is EIO.
  await dev.write(5 * BS + 1024, pattern(1024, 2));
  assert.deepEqual(await readBytes(dev, 5 * BS + 1024, 1024), Buffer.from(pattern(1024, 2)));
  await assert.rejects(dev.read(5 * BS, new Uint8Array(512)), MediumError);
  await assert.rejects(dev.read(5 * BS + 2000, new Uint8Array(100)), MediumError);
  // Rewriting a lost sector makes it readable with exactly the new bytes.
  await dev.write(5 * BS, pattern(512, 3));
  assert.deepEqual(await readBytes(dev, 5 * BS, 512), Buffer.from(pattern(512, 3)));
  await assert.rejects(dev.read(5 * BS + 512, new Uint8Array(512)), MediumError);
  assert.equal(dev.status().lostSectors, 5);

  // A freed slot is reused by another block: its old content must not show through.
  await dev.writeZeroes(5 * BS, BS);
  assert.deepEqual(await readBytes(dev, 5 * BS, BS), Buffer.alloc(BS));
  await dev.unremapBlock(5);
  main.breakBlock(9, BS, { reads: true, writes: true });
  await dev.write(9 * BS + 3584, pattern(512, 4));
  assert.deepEqual(
    dev.list().entries.map((e) => [e.block, e.slot]),
    [[9, 0]],
  );
  await assert.rejects(dev.read(9 * BS, new Uint8Array(512)), MediumError);
  assert.deepEqual(await readBytes(dev, 9 * BS + 3584, 512), Buffer.from(pattern(512, 4)));
  // A write covering only part of a sector leaves that sector unknown: still EIO.
  await dev.write(9 * BS + 100, pattern(10, 5));
  await assert.rejects(dev.read(9 * BS + 100, new Uint8Array(10)), MediumError);
});

test("promise 2: write errors are absorbed: spare written and flushed, remap record durable, then the ack", async () => {
  const rig = makeRig();
  const { dev, main, store, spareCaches, durable } = rig;
  main.breakBlock(3, BS, { writes: true });
  let spareDirtyAtAppend = -1;
  store.onAppend = () => {
    spareDirtyAtAppend = spareCaches[0]!.cachedWrites;
  };
  const data = pattern(BS * 2, 7);
  await dev.write(2 * BS, data); // spans healthy block 2 and failing block 3
  assert.equal(spareDirtyAtAppend, 0, "spare was flushed before the remap record");
  assert.deepEqual(durable.journal, [{ type: "remap", block: 3, slot: 0, reason: "write-error" }]);
  assert.deepEqual(await readBytes(dev, 2 * BS, 2 * BS), Buffer.from(data));
  // Main is never touched for the remapped block again.
  const writesBefore = main.lowerWrites;
  await dev.write(3 * BS + 10, pattern(20, 8));
  assert.equal(main.lowerWrites, writesBefore);
  const st = dev.status();
  assert.equal(st.remappedBlocks, 1);
  assert.equal(st.remaps["write-error"], 1);
  assert.equal(st.errorCounts.write >= 3, true, "initial failure and retries were counted");
  assert.equal(st.retries.write, 2);
});

test("promise 3: read errors are contained: retried, migrated when recovered, pending when not", async () => {
  const remaps: unknown[] = [];
  const pendings: number[] = [];
  const rig = makeRig({
    policy: { migrateAfterFailedReads: 1 },
    events: { onRemap: (e) => remaps.push(e), onPending: (e) => pendings.push(e.block) },
  });
  const { dev, main, durable } = rig;
  await dev.write(0, pattern(8 * BS, 1));
  // Recovered read: two failures, then success -> data returned, block migrated to a spare.
  for (let s = 8; s < 16; s++) main.transientReads.set(s, 2);
  assert.deepEqual(await readBytes(dev, 0, 4 * BS), Buffer.from(pattern(8 * BS, 1).subarray(0, 4 * BS)));
  await dev.idle();
  assert.deepEqual(remaps, [{ block: 1, slot: 0, reason: "read-error", lostSectors: 0 }]);
  assert.deepEqual(await readBytes(dev, BS, BS), Buffer.from(pattern(8 * BS, 1).subarray(BS, 2 * BS)));
  // Unrecoverable: only that request fails, the block is pending (durably), neighbours still read.
  main.breakBlock(6, BS, { reads: true });
  await assert.rejects(dev.read(5 * BS, new Uint8Array(3 * BS)), MediumError);
  assert.deepEqual(pendings, [6]);
  assert.deepEqual(durable.journal.at(-1), { type: "pending", block: 6 });
  assert.deepEqual(
    await readBytes(dev, 5 * BS, BS),
    Buffer.from(pattern(8 * BS, 1).subarray(5 * BS, 6 * BS)),
  );
  const st = dev.status();
  assert.equal(st.pendingBlocks, 1);
  assert.equal(st.retries.read >= 3, true);
  // The next write remaps it (main still unreadable there) and clears pending.
  await dev.write(6 * BS, pattern(BS, 9));
  assert.deepEqual(await readBytes(dev, 6 * BS, BS), Buffer.from(pattern(BS, 9)));
  assert.equal(dev.status().pendingBlocks, 0);
  assert.deepEqual(
    dev.list().entries.map((e) => e.block),
    [1, 6],
  );
});

test("promise 3: the retry budget bounds a request; out of budget a block is failed but not marked pending", async () => {
  const rig = makeRig({ policy: { readRetryBudgetMs: 0 } });
  rig.main.breakBlock(2, BS, { reads: true });
  await assert.rejects(rig.dev.read(0, new Uint8Array(4 * BS)), MediumError);
  assert.equal(rig.dev.status().pendingBlocks, 0);
  assert.equal(rig.durable.journal.length, 0);
});

test("promise 4: transient errors do not burn spares", async () => {
  const rig = makeRig({ policy: { migrateAfterFailedReads: 2 } });
  const { dev, main } = rig;
  // A write that fails once and succeeds on retry stays on main.
  main.transientWrites.set(8, 1);
  await dev.write(BS, pattern(BS, 5));
  // A read that fails once (a flaky link) is answered and the block stays on main.
  main.transientReads.set(16, 1);
  assert.deepEqual(await readBytes(dev, 2 * BS, BS), Buffer.alloc(BS));
  await dev.idle();
  assert.equal(dev.status().remappedBlocks, 0);
  assert.equal(dev.status().spare.usedBlocks, 0);
  assert.deepEqual(await readBytes(rig.mainCache, BS, BS), Buffer.from(pattern(BS, 5)));
  assert.equal(dev.status().retries.write, 1);
});
