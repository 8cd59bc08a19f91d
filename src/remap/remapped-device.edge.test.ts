// Edge cases of RemappedDevice: a partial last block, control-verb errors, list paging, the guard.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readBytes } from "../block/base-device.js";
import { MediumError } from "../block/errors.js";
import { MemoryDevice } from "../block/memory-device.js";
import { BlockGuard } from "./block-guard.js";
import { BlockRangeError, BlockStateError } from "./errors.js";
import { openRemappedDevice } from "./remapped-device.js";
import { FaultyDevice } from "./testing/faulty-device.js";
import { createMemorySet } from "./testing/memory-store.js";
import { makeRig, pattern } from "./testing/rig.js";

const BS = 4096;

test("a partial last block is remapped, made pending and unremapped within the device's size", async () => {
  const size = 8 * BS + 1024;
  const { opened } = createMemorySet({ blockSize: BS, mainSizeBytes: size, spareSlots: [4] });
  const main = new FaultyDevice(new MemoryDevice({ sizeBytes: size }));
  const dev = openRemappedDevice({ main, spares: [new MemoryDevice({ sizeBytes: 5 * BS })], opened });
  assert.equal(dev.sizeBytes, size);
  await dev.write(8 * BS, pattern(1024, 1));
  main.breakBlock(8, BS, { writes: true });
  await dev.write(8 * BS + 512, pattern(512, 2)); // remap: the rest of the block is read from main
  const expect = pattern(1024, 1);
  expect.set(pattern(512, 2), 512);
  assert.deepEqual(await readBytes(dev, 8 * BS, 1024), Buffer.from(expect));
  main.badWrites.clear();
  await dev.unremapBlock(8);
  assert.deepEqual(await readBytes(main, 8 * BS, 1024), Buffer.from(expect));
  main.breakBlock(8, BS, { reads: true });
  await assert.rejects(dev.read(8 * BS, new Uint8Array(10)), MediumError);
  await dev.write(8 * BS, pattern(512, 3));
  assert.equal(dev.status().lostSectors, 1, "only the sector inside the device is lost");
});

test("control verbs check block numbers and states; list pages through remapped and pending blocks", async () => {
  const rig = makeRig({ spareSlots: [8] });
  const { dev } = rig;
  await assert.rejects(dev.remapBlock(64), BlockRangeError);
  await assert.rejects(dev.unremapBlock(3), BlockStateError);
  for (const b of [2, 5, 9]) assert.equal(await dev.remapBlock(b), "remapped");
  assert.equal(await dev.remapBlock(2), "already-remapped");
  await assert.rejects(dev.markPending(5), BlockStateError);
  assert.equal(await dev.markPending(4), true);
  assert.equal(await dev.markPending(4), false);
  assert.equal(await dev.remapBlock(4), "pending");
  const page1 = dev.list({ limit: 2 });
  assert.deepEqual(
    page1.entries.map((e) => e.block),
    [2],
  );
  assert.deepEqual(page1.pending, [4]);
  const page2 = dev.list({ cursor: page1.nextCursor!, limit: 2 });
  assert.deepEqual(
    page2.entries.map((e) => e.block),
    [5, 9],
  );
  assert.equal(page2.nextCursor, null);
  assert.equal(page2.entries[0]!.spareOffsetBytes, BS + page2.entries[0]!.slot * BS);
  assert.equal(await dev.clearPending(4), true);
  assert.equal(await dev.clearPending(4), false);
  assert.deepEqual(await readBytes(dev, 4 * BS, 10), Buffer.alloc(10));
});

test("the guard runs a block's lock holder only after overlapping I/O drained, one holder at a time", async () => {
  const guard = new BlockGuard();
  const order: string[] = [];
  const io = guard.register(3, 10);
  const first = guard.withLock(5, async () => void order.push("lock1"));
  const second = guard.withLock(5, async () => void order.push("lock2"));
  await Promise.resolve();
  assert.equal(guard.firstLocked(0, 100), 5);
  order.push("io-done");
  guard.release(io);
  await Promise.all([first, second]);
  assert.deepEqual(order, ["io-done", "lock1", "lock2"]);
  assert.equal(guard.firstLocked(0, 100), -1);
  const ids = Array.from({ length: 200 }, (_, i) => guard.register(i, i));
  assert.equal(guard.activeCount, 200);
  for (const id of ids) guard.release(id);
  assert.equal(guard.activeCount, 0);
});

test("a spare slot whose write fails is quarantined and the next slot used; background failures are reported", async () => {
  const { opened } = createMemorySet({ blockSize: BS, mainSizeBytes: 16 * BS, spareSlots: [2] });
  const main = new FaultyDevice(new MemoryDevice({ sizeBytes: 16 * BS }), "main");
  const spare = new FaultyDevice(new MemoryDevice({ sizeBytes: 3 * BS }), "spare");
  const background: string[] = [];
  const dev = openRemappedDevice({
    main,
    spares: [spare],
    opened,
    policy: { migrateAfterFailedReads: 1 },
    events: { onBackgroundError: (e) => background.push(e.task) },
  });
  spare.breakBlock(1, BS, { writes: true }); // slot 0 sits at byte 4096 (after one block of metadata)
  main.breakBlock(3, BS, { writes: true });
  await dev.write(3 * BS, pattern(BS, 1));
  assert.deepEqual(
    dev.list().entries.map((e) => [e.block, e.slot]),
    [[3, 1]],
  );
  let st = dev.status();
  assert.equal(st.spare.quarantinedBlocks, 1);
  assert.equal(st.spare.usedBlocks, 2);
  assert.equal(st.errorCounts.spare, 1);
  // The pool is now empty: a recovered read is answered, its migration fails in the background.
  await dev.write(6 * BS, pattern(BS, 2));
  main.transientReads.set(48, 1);
  assert.deepEqual(await readBytes(dev, 6 * BS, BS), Buffer.from(pattern(BS, 2)));
  await dev.idle();
  assert.deepEqual(background, ["migrate"]);
  st = dev.status();
  assert.equal(st.errorCounts.noSpace, 1);
  assert.equal(st.state, "degraded");
});
