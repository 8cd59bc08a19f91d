// Promise tests 10-14 of docs/SEMANTICS.md: safe and loud exhaustion, exact splitting,
// linearizable concurrency, idempotent recovery, honest status.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readBytes } from "../block/base-device.js";
import { MediumError, NoSpaceError } from "../block/errors.js";
import { makeRig, pattern } from "./testing/rig.js";
import type { RemappedDevice } from "./remapped-device.js";

const BS = 4096;

test("promise 10: exhaustion is safe and loud: alert first, then NoSpaceError, existing remaps intact", async () => {
  const alerts: number[] = [];
  const rig = makeRig({
    spareSlots: [4],
    policy: { spareAlertPercent: 50 },
    events: { onSpareAlert: (e) => alerts.push(e.freeBlocks) },
  });
  const { dev, main } = rig;
  for (const b of [1, 2, 3, 4, 5]) main.breakBlock(b, BS, { writes: true });
  for (const b of [1, 2, 3, 4]) await dev.write(b * BS, pattern(BS, b));
  assert.deepEqual(alerts, [2], "alert fired when half the slots were gone, once");
  await assert.rejects(dev.write(5 * BS, pattern(BS, 5)), NoSpaceError);
  for (const b of [1, 2, 3, 4])
    assert.deepEqual(await readBytes(dev, b * BS, BS), Buffer.from(pattern(BS, b)));
  const st = dev.status();
  assert.equal(st.state, "degraded");
  assert.match(st.reason, /no spare slot left/);
  assert.equal(st.spare.nearlyExhausted, true);
  assert.equal(st.spare.freeBlocks, 0);
  assert.equal(st.errorCounts.noSpace, 1);
  // Healthy blocks still take writes.
  await dev.write(9 * BS, pattern(BS, 9));
  assert.deepEqual(await readBytes(dev, 9 * BS, BS), Buffer.from(pattern(BS, 9)));
});

test("promise 11: requests of any shape are split exactly across healthy, remapped, lost and pending blocks", async () => {
  const BS2 = 1024;
  const rig = makeRig({ blockSize: BS2, blocks: 64, spareSlots: [8] });
  const { dev, main } = rig;
  const model = pattern(64 * BS2, 1);
  await dev.write(0, model);
  main.breakBlock(3, BS2, { writes: true });
  main.breakBlock(7, BS2, { writes: true, reads: true });
  const a = pattern(5000, 2); // 700..5700 spans blocks 0..5, remapping 3
  await dev.write(700, a);
  model.set(a, 700);
  const b = pattern(600, 3); // block 7 partially: sectors 0 and 1 of 7 unknown -> lost
  await dev.write(7 * BS2 + 200, b);
  model.set(b, 7 * BS2 + 200);
  assert.deepEqual(await readBytes(dev, 0, 7 * BS2), Buffer.from(model.subarray(0, 7 * BS2)));
  await assert.rejects(dev.read(6 * BS2 + 1000, new Uint8Array(300)), MediumError); // touches lost sector 0 of 7
  // Huge zeroing and trim across everything.
  await dev.writeZeroes(2 * BS2 + 5, 50 * BS2);
  model.fill(0, 2 * BS2 + 5, 52 * BS2 + 5);
  assert.deepEqual(await readBytes(dev, 0, 64 * BS2), Buffer.from(model));
  await dev.trim(BS2, 10 * BS2);
  const after = await readBytes(dev, 0, 64 * BS2);
  for (let i = 0; i < after.length; i++) {
    const inTrim = i >= BS2 && i < 11 * BS2;
    assert.ok(after[i] === model[i] || (inTrim && after[i] === 0), `byte ${i}`);
  }
  assert.deepEqual(
    dev.list().entries.map((e) => e.block),
    [3, 7],
  );
  assert.equal(dev.status().lostSectors, 0, "zeroing the whole block rewrote its lost sectors");
});

test("promise 12: concurrency is linearizable: one remap per block, no write lost during a move", async () => {
  const rig = makeRig({ policy: { migrateAfterFailedReads: 1 } });
  const { dev, main, store } = rig;
  main.breakBlock(2, BS, { writes: true });
  const writes = Array.from({ length: 8 }, (_, i) => dev.write(2 * BS + i * 512, pattern(512, i)));
  await Promise.all(writes);
  assert.equal(rig.durable.journal.filter((r) => r.type === "remap").length, 1);
  const expect = new Uint8Array(BS);
  for (let i = 0; i < 8; i++) expect.set(pattern(512, i), i * 512);
  assert.deepEqual(await readBytes(dev, 2 * BS, BS), Buffer.from(expect));
  // A migration (recovered read) racing writes: the writes issued during the move survive it.
  await dev.write(5 * BS, pattern(BS, 50));
  main.transientReads.set(40, 1);
  let raced: Promise<void> | undefined;
  store.onAppend = (records) => {
    if (records[0]?.type === "remap" && records[0].block === 5 && !raced) {
      raced = dev.write(5 * BS + 100, pattern(10, 51));
    }
  };
  await dev.read(5 * BS, new Uint8Array(BS));
  await dev.idle();
  assert.ok(raced, "a write was issued while the block was being moved");
  await raced;
  const moved = pattern(BS, 50);
  moved.set(pattern(10, 51), 100);
  assert.deepEqual(await readBytes(dev, 5 * BS, BS), Buffer.from(moved));
  assert.deepEqual(
    dev.list().entries.map((e) => e.block),
    [2, 5],
  );
  // Concurrent reads of an unreadable block: one pending record.
  main.breakBlock(9, BS, { reads: true });
  const reads = await Promise.allSettled(
    Array.from({ length: 4 }, () => dev.read(9 * BS, new Uint8Array(BS))),
  );
  assert.ok(reads.every((r) => r.status === "rejected"));
  assert.equal(rig.durable.journal.filter((r) => r.type === "pending").length, 1);
});

test("promise 13: recovery is idempotent: reopening again and again yields the same state", async () => {
  const rig = makeRig({ spareSlots: [8] });
  rig.main.breakBlock(1, BS, { writes: true });
  rig.main.breakBlock(4, BS, { reads: true, writes: true });
  await rig.dev.write(BS, pattern(BS, 1));
  await assert.rejects(rig.dev.read(4 * BS, new Uint8Array(BS)), MediumError);
  await rig.dev.write(4 * BS + 512, pattern(512, 2));
  await rig.dev.flush();
  // Remap reasons are notes of the session that made them; the persisted state is the rest.
  const persisted = (l: ReturnType<RemappedDevice["list"]>) =>
    JSON.stringify({
      ...l,
      entries: l.entries.map(({ block, slot, spare, spareOffsetBytes, lostSectors }) => ({
        block,
        slot,
        spare,
        spareOffsetBytes,
        lostSectors,
      })),
    });
  assert.equal(rig.dev.list().entries[0]?.reason, "write-error");
  const first = persisted(rig.dev.list());
  for (let i = 0; i < 3; i++) {
    rig.crash();
    const dev = rig.reopen();
    assert.equal(persisted(dev.list()), first);
    assert.deepEqual(await readBytes(dev, BS, BS), Buffer.from(pattern(BS, 1)));
    assert.deepEqual(await readBytes(dev, 4 * BS + 512, 512), Buffer.from(pattern(512, 2)));
    await assert.rejects(dev.read(4 * BS, new Uint8Array(512)), MediumError);
  }
});

test("promise 14: status is honest: counters persist across restarts and agree with the table", async () => {
  const rig = makeRig({ spareSlots: [8] });
  rig.main.breakBlock(1, BS, { writes: true });
  rig.main.breakBlock(2, BS, { writes: true });
  rig.main.breakBlock(6, BS, { reads: true });
  await rig.dev.write(BS, pattern(2 * BS, 1));
  await assert.rejects(rig.dev.read(6 * BS, new Uint8Array(10)), MediumError);
  assert.equal(await rig.dev.remapBlock(3), "remapped");
  assert.equal(await rig.dev.markPending(10), true);
  const before = rig.dev.status();
  await rig.dev.close();
  const dev = rig.reopen();
  const st = dev.status();
  for (const key of ["remappedBlocks", "pendingBlocks", "lostSectors", "remaps", "errorCounts", "retries"]) {
    assert.deepEqual(st[key], before[key], key);
  }
  assert.equal(st.remappedBlocks, 3);
  assert.equal(st.remaps["write-error"], 2);
  assert.equal(st.remaps.manual, 1);
  assert.equal(st.pendingBlocks, 2);
  const listed = dev.list();
  assert.equal(listed.entries.length, st.remappedBlocks);
  assert.deepEqual(listed.pending, [6, 10]);
  assert.equal(st.spare.usedBlocks, st.remappedBlocks);
  assert.equal(st.metadata.generation, rig.durable.generation);
  assert.equal(st.state, "degraded");
});
