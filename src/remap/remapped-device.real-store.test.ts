// RemappedDevice on the real metadata store (createSet / openSet on memory spares): remaps, pending
// and lost sectors survive close and reopen (spares given in any order), checkpoints run, and a
// metadata write failure turns the device read-only.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readBytes } from "../block/base-device.js";
import { MediumError, ReadOnlyError } from "../block/errors.js";
import { MemoryDevice } from "../block/memory-device.js";
import { createSet } from "../metadata/create-set.js";
import { openSet } from "../metadata/open-set.js";
import { openRemappedDevice } from "./remapped-device.js";
import { FaultyDevice } from "./testing/faulty-device.js";
import { KeepOpenDevice, pattern } from "./testing/rig.js";
import { VolatileDevice } from "./testing/volatile-device.js";

const BS = 4096;

/** A set on memory media; `layers()` gives fresh closable handles on the same media (for reopening). */
async function makeRealSet() {
  const media = [1 << 20, 1 << 20, 3 << 19].map((sizeBytes) => new MemoryDevice({ sizeBytes }));
  const layers = () => media.map((m) => new KeepOpenDevice(m));
  const [mainMedia, ...spares] = layers();
  const opened = await createSet({
    main: mainMedia!,
    spares,
    blockSize: BS,
    name: "real",
    journalBytes: 8192,
  });
  return { mainMedia: mainMedia!, spares, opened, layers };
}

test("real store: remaps, pending and lost sectors survive close and reopen; checkpoints run", async () => {
  const { mainMedia, spares, opened, layers } = await makeRealSet();
  const main = new FaultyDevice(mainMedia);
  let checkpoints = 0;
  const store = opened.store;
  const checkpoint = store.checkpoint.bind(store);
  Object.assign(store, {
    checkpoint: (snap: Parameters<typeof checkpoint>[0]) => (checkpoints++, checkpoint(snap)),
  });
  const dev = openRemappedDevice({ main, spares, opened });
  for (let b = 10; b < 70; b++) main.breakBlock(b, BS, { writes: true });
  for (let b = 10; b < 70; b++) await dev.write(b * BS, pattern(BS, b));
  main.breakBlock(80, BS, { reads: true });
  await assert.rejects(dev.read(80 * BS, new Uint8Array(BS)), MediumError);
  main.breakBlock(90, BS, { reads: true, writes: true });
  await assert.rejects(dev.read(90 * BS, new Uint8Array(BS)), MediumError);
  await dev.write(90 * BS + 1024, pattern(1024, 90));
  await dev.idle();
  const generationBefore = opened.store.generation;
  assert.ok(generationBefore > 60, "every remap was a durable append");
  const statusBefore = dev.status();
  assert.equal(statusBefore.remappedBlocks, 61);
  const background = checkpoints;
  assert.ok(background >= 1, "a full journal triggered a background checkpoint");
  await dev.close();
  assert.equal(checkpoints, background + 1, "close wrote a final checkpoint");

  const [main2, spare0, spare1] = layers();
  const reopened = await openSet({ spares: [spare1!, spare0!], main: main2 });
  const dev2 = openRemappedDevice({ main: main2!, spares: [spare1!, spare0!], opened: reopened });
  const st = dev2.status();
  assert.equal(st.remappedBlocks, 61);
  assert.equal(st.pendingBlocks, 1);
  assert.equal(st.lostSectors, 6);
  assert.deepEqual(st.remaps, statusBefore.remaps);
  for (let b = 10; b < 70; b++)
    assert.deepEqual(await readBytes(dev2, b * BS, BS), Buffer.from(pattern(BS, b)));
  assert.deepEqual(await readBytes(dev2, 90 * BS + 1024, 1024), Buffer.from(pattern(1024, 90)));
  await assert.rejects(dev2.read(90 * BS, new Uint8Array(512)), MediumError);
  await assert.rejects(dev2.read(80 * BS, new Uint8Array(512)), MediumError);
  assert.ok(reopened.store.generation >= generationBefore);
  assert.ok(reopened.store.copies().every((c) => c.state === "ok"));
  await dev2.close();
});

test("real store: a metadata write failure makes the device read-only and the write fail", async () => {
  const media = [1 << 20, 1 << 20, 1 << 20].map((sizeBytes) => new MemoryDevice({ sizeBytes }));
  const [main, ...spares] = media.map((m, i) => new FaultyDevice(m, `dev${i}`));
  const opened = await createSet({ main: main!, spares, blockSize: BS, name: "real", journalBytes: 8192 });
  const dev = openRemappedDevice({ main: main!, spares, opened });
  for (const [i, spare] of spares.entries()) {
    // Metadata sits at both ends of a spare: before the first slot and after the last one.
    const id = opened.store.identity.spares[i]!;
    const slotsEnd = (id.dataOffsetBytes + id.slotCount * BS) / 512;
    for (let s = 0; s < id.dataOffsetBytes / 512; s++) spare.badWrites.add(s);
    for (let s = slotsEnd; s < id.sizeBytes / 512; s++) spare.badWrites.add(s);
  }
  main!.breakBlock(4, BS, { writes: true });
  await assert.rejects(dev.write(4 * BS, pattern(BS, 1)), MediumError);
  const st = dev.status();
  assert.equal(st.state, "read-only");
  assert.equal(st.remappedBlocks, 0);
  assert.ok(st.metadata.copies.every((c) => c.state === "failed"));
  await assert.rejects(dev.write(0, pattern(10, 2)), ReadOnlyError);
  assert.deepEqual(await readBytes(dev, 0, 10), Buffer.alloc(10));
  await dev.close();
});

test("real store: after a crash (volatile caches dropped) flushed data and every acknowledged remap survive", async () => {
  const media = [1 << 20, 1 << 20, 1 << 20].map((sizeBytes) => new MemoryDevice({ sizeBytes }));
  const stack = () => media.map((m, i) => new VolatileDevice(new KeepOpenDevice(m), `dev${i}-cache`));
  const [mainCache, ...spareCaches] = stack();
  const opened = await createSet({ main: mainCache!, spares: spareCaches, blockSize: BS, name: "crash" });
  const main = new FaultyDevice(mainCache!);
  const dev = openRemappedDevice({ main, spares: spareCaches, opened });
  main.breakBlock(2, BS, { writes: true });
  await dev.write(0, pattern(BS, 1));
  await dev.flush();
  await dev.write(2 * BS, pattern(BS, 2)); // remapped: durable before the ack, even without a flush
  await dev.write(5 * BS, pattern(BS, 5)); // plain, unflushed: may be lost
  for (const d of [mainCache!, ...spareCaches]) d.crash();
  const [main2, ...spares2] = stack();
  const reopened = await openSet({ spares: spares2, main: main2 });
  const dev2 = openRemappedDevice({ main: main2!, spares: spares2, opened: reopened });
  assert.deepEqual(await readBytes(dev2, 0, BS), Buffer.from(pattern(BS, 1)));
  assert.deepEqual(await readBytes(dev2, 2 * BS, BS), Buffer.from(pattern(BS, 2)));
  const unflushed = await readBytes(dev2, 5 * BS, BS);
  assert.ok(unflushed.equals(Buffer.alloc(BS)) || unflushed.equals(Buffer.from(pattern(BS, 5))));
  assert.deepEqual(
    dev2.list().entries.map((e) => e.block),
    [2],
  );
  await dev2.close();
});
