// Promise tests 5-9 of docs/SEMANTICS.md: durability via FLUSH/FUA, all-or-nothing commits,
// bound metadata (mismatched devices refused), fatal metadata errors, spare slots allocated once.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readBytes } from "../block/base-device.js";
import { MemoryDevice } from "../block/memory-device.js";
import { MediumError, NoSpaceError, ReadOnlyError, SpecError } from "../block/errors.js";
import { MetadataCapacityError } from "../metadata/errors.js";
import { openRemappedDevice } from "./remapped-device.js";
import { createMemorySet } from "./testing/memory-store.js";
import { makeRig, pattern } from "./testing/rig.js";

const BS = 4096;

test("promise 5: durability follows FLUSH/FUA: flushed and FUA writes, remapped ones too, survive a crash", async () => {
  const rig = makeRig();
  let dev = rig.dev;
  rig.main.breakBlock(4, BS, { writes: true });
  rig.main.breakBlock(7, BS, { writes: true });
  await dev.write(0, pattern(BS, 1)); // healthy
  await dev.write(4 * BS + 512, pattern(1024, 2)); // remapped (partial: rest read from main)
  await dev.write(7 * BS, pattern(BS, 3));
  await dev.write(7 * BS + 2048, pattern(512, 4)); // to an already remapped block: in the spare's cache
  await dev.flush();
  await dev.write(9 * BS, pattern(BS, 5), { fua: true });
  await dev.write(4 * BS, pattern(100, 6), { fua: true }); // FUA on a remapped block
  const flushedCount = rig.mainCache.cachedWrites + rig.spareCaches[0]!.cachedWrites;
  assert.equal(flushedCount, 0, "FUA left nothing in volatile caches");
  await dev.write(12 * BS, pattern(BS, 7)); // never flushed
  rig.crash();
  dev = rig.reopen();
  const expect4 = new Uint8Array(BS);
  expect4.set(pattern(1024, 2), 512);
  expect4.set(pattern(100, 6), 0);
  const expect7 = pattern(BS, 3);
  expect7.set(pattern(512, 4), 2048);
  assert.deepEqual(await readBytes(dev, 0, BS), Buffer.from(pattern(BS, 1)));
  assert.deepEqual(await readBytes(dev, 4 * BS, BS), Buffer.from(expect4));
  assert.deepEqual(await readBytes(dev, 7 * BS, BS), Buffer.from(expect7));
  assert.deepEqual(await readBytes(dev, 9 * BS, BS), Buffer.from(pattern(BS, 5)));
  const unflushed = await readBytes(dev, 12 * BS, BS);
  assert.ok(unflushed.equals(Buffer.alloc(BS)) || unflushed.equals(Buffer.from(pattern(BS, 7))));
  assert.deepEqual(
    dev.list().entries.map((e) => e.block),
    [4, 7],
  );
});

test("promise 5: flush waits for in-flight metadata and reaches main and every spare", async () => {
  const rig = makeRig({ spareSlots: [4, 4] });
  rig.main.breakBlock(1, BS, { writes: true });
  const write = rig.dev.write(BS, pattern(BS, 1));
  await rig.dev.flush();
  await write;
  await rig.dev.write(2 * BS, pattern(10, 2));
  await rig.dev.write(BS, pattern(10, 3));
  await rig.dev.flush();
  assert.equal(rig.mainCache.cachedWrites, 0);
  assert.deepEqual(
    rig.spareCaches.map((s) => s.cachedWrites),
    [0, 0],
  );
  rig.main.failFlush = true;
  await assert.rejects(rig.dev.flush(), MediumError);
  assert.equal(rig.dev.status().errorCounts.flush, 1);
});

test("promise 6: metadata commits are all-or-nothing: records of one change go in one append", async () => {
  const rig = makeRig();
  const batches: number[] = [];
  rig.store.onAppend = (records) => void batches.push(records.length);
  rig.main.breakBlock(3, BS, { reads: true, writes: true });
  await assert.rejects(rig.dev.read(3 * BS, new Uint8Array(BS)), MediumError); // pending
  await rig.dev.write(3 * BS, pattern(512, 1)); // remap + lost + clear-pending, together
  assert.deepEqual(batches, [1, 3]);
  assert.deepEqual(
    rig.durable.journal.slice(1).map((r) => r.type),
    ["remap", "lost", "clear-pending"],
  );
  // A change whose append fails leaves the old table on reopen, and was not acknowledged.
  rig.main.breakBlock(5, BS, { writes: true });
  rig.store.failAppends = true;
  await assert.rejects(rig.dev.write(5 * BS, pattern(BS, 2)), MediumError);
  const dev = rig.reopen();
  assert.deepEqual(
    dev.list().entries.map((e) => e.block),
    [3],
  );
  assert.equal(dev.status().pendingBlocks, 0);
});

test("promise 7: metadata is bound to its devices: a mismatched main or spare is refused", () => {
  const { opened } = createMemorySet({ blockSize: BS, mainSizeBytes: 64 * BS, spareSlots: [8] });
  const spare = new MemoryDevice({ sizeBytes: 9 * BS });
  const main = new MemoryDevice({ sizeBytes: 64 * BS });
  assert.throws(
    () => openRemappedDevice({ main: new MemoryDevice({ sizeBytes: 32 * BS }), spares: [spare], opened }),
    (err: unknown) => err instanceof SpecError && /needs 262144/.test(err.message),
  );
  assert.throws(() => openRemappedDevice({ main, spares: [], opened }), /has 1 spares, 0 given/);
  assert.throws(
    () => openRemappedDevice({ main, spares: [new MemoryDevice({ sizeBytes: 4 * BS })], opened }),
    /its slots need 36864/,
  );
  assert.throws(
    () => openRemappedDevice({ main, spares: [spare], opened, policy: { readRetries: -1 } }),
    /readRetries/,
  );
  const dev = openRemappedDevice({ main, spares: [spare], opened });
  assert.equal(dev.sizeBytes, 64 * BS);
  assert.equal(dev.status().uuid, opened.store.identity.uuid);
});

test("promise 8: a metadata write error is fatal for writes: read-only, said in status, nothing false acknowledged", async () => {
  const states: string[] = [];
  const rig = makeRig({ events: { onStateChange: (e) => states.push(e.state) } });
  const { dev, main, store } = rig;
  await dev.write(0, pattern(BS, 1));
  main.breakBlock(2, BS, { writes: true });
  store.failAppends = true;
  await assert.rejects(dev.write(2 * BS, pattern(BS, 2)), MediumError);
  assert.equal(dev.capabilities.readOnly, true);
  const st = dev.status();
  assert.equal(st.state, "read-only");
  assert.match(st.reason, /metadata append failed/);
  assert.equal(st.errorCounts.metadata, 1);
  assert.equal(st.remappedBlocks, 0);
  assert.deepEqual(states, ["read-only"]);
  await assert.rejects(dev.write(0, pattern(10, 3)), ReadOnlyError);
  await assert.rejects(dev.remapBlock(1), ReadOnlyError);
  assert.deepEqual(await readBytes(dev, 0, BS), Buffer.from(pattern(BS, 1)));
  // Unreadable data on a read-only device is still EIO (not EROFS), and nothing is recorded.
  main.breakBlock(6, BS, { reads: true });
  await assert.rejects(dev.read(6 * BS, new Uint8Array(BS)), MediumError);
  // A failing checkpoint is fatal too.
  const rig2 = makeRig();
  rig2.store.failCheckpoints = true;
  await assert.rejects(rig2.dev.checkpoint());
  assert.equal(rig2.dev.status().state, "read-only");
  // A set opened read-only by the store starts read-only.
  const { opened } = createMemorySet({ blockSize: BS, mainSizeBytes: 8 * BS, spareSlots: [2] });
  const ro = openRemappedDevice({
    main: new MemoryDevice({ sizeBytes: 8 * BS }),
    spares: [new MemoryDevice({ sizeBytes: 3 * BS })],
    opened: { ...opened, readOnlyReason: "no copy writable" },
  });
  await assert.rejects(ro.write(0, new Uint8Array(1)), ReadOnlyError);
});

test("promise 9: spare slots are allocated exactly once, rebuilt on open, data slots never touch metadata", async () => {
  const rig = makeRig({ blocks: 64, spareSlots: [6, 6] });
  for (let b = 0; b < 12; b++) rig.main.breakBlock(b * 5, BS, { writes: true });
  await Promise.all(Array.from({ length: 12 }, (_, i) => rig.dev.write(i * 5 * BS, pattern(BS, i))));
  const slots = rig.dev.list().entries.map((e) => e.slot);
  assert.equal(new Set(slots).size, 12);
  await assert.rejects(
    rig.dev.write(61 * BS, pattern(BS, 0)).then(() => rig.dev.remapBlock(61)),
    NoSpaceError,
  );
  await assert.rejects(rig.dev.unremapBlock(0), /stays remapped/); // main still fails there
  assert.equal(rig.dev.status().remappedBlocks, 12);
  rig.main.badWrites.clear();
  await rig.dev.unremapBlock(5);
  assert.deepEqual(await readBytes(rig.dev, 5 * BS, BS), Buffer.from(pattern(BS, 1)));
  const st = rig.dev.status();
  assert.equal(st.spare.usedBlocks + st.spare.freeBlocks, st.spare.totalBlocks);
  assert.equal(st.spare.usedBlocks, 11);
  await rig.dev.close();
  const dev = rig.reopen();
  const again = dev.status();
  assert.equal(again.spare.usedBlocks, 11);
  assert.deepEqual(
    again.spare.perSpare.map((s) => s.usedBlocks).reduce((a, b) => a + b),
    11,
  );
  for (const spare of rig.spareCaches) {
    assert.deepEqual(await readBytes(spare, 0, BS), Buffer.alloc(BS), "metadata area untouched");
  }
});

test("promise 8: a metadata table that is full fails only the change needing it (ENOSPC), the device stays writable", async () => {
  const rig = makeRig();
  rig.store.onAppend = () => {
    throw new MetadataCapacityError("pending table full");
  };
  rig.main.breakBlock(3, BS, { reads: true });
  await assert.rejects(rig.dev.read(3 * BS, new Uint8Array(BS)), MediumError); // unreadable, not recorded
  assert.equal(rig.dev.status().pendingBlocks, 0);
  rig.main.breakBlock(5, BS, { writes: true });
  await assert.rejects(rig.dev.write(5 * BS, pattern(BS, 2)), NoSpaceError);
  assert.equal(rig.dev.capabilities.readOnly, false);
  rig.store.onAppend = undefined;
  await rig.dev.write(0, pattern(BS, 1));
  assert.deepEqual(await readBytes(rig.dev, 0, BS), Buffer.from(pattern(BS, 1)));
});
