// Removing a spare from a served set: refused while it holds blocks (with the count); after a drain
// it leaves (the last one from the spare table, any other one as a tombstone keeping every slot
// number), its metadata is wiped, the set reopens without it and without a degraded state; a crash
// at every write and flush leaves the old or the new membership.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readBytes } from "../block/base-device.js";
import { MemoryDevice } from "../block/memory-device.js";
import { Prng } from "../block/prng.js";
import { createSet } from "../metadata/create-set.js";
import { openSet } from "../metadata/open-set.js";
import { type RemappedDevice, openRemappedDevice } from "../remap/remapped-device.js";
import { SpareStore } from "../metadata/spare-store.js";
import { KeepOpenDevice, pattern } from "../remap/testing/rig.js";
import { CrashDevice, CrashRecorder, type CrashPoint, crashImage } from "../testing/crash-device.js";
import { DrainJob } from "./drain.js";
import { removeSpareFromServed, removeSpareOffline } from "./remove-spare.js";

const BS = 4096;
const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(b);

test("remove refuses a spare with blocks or an unknown index; after a drain the last one leaves for good", async () => {
  const media = [2 << 20, 256 << 10, 1 << 20].map((sizeBytes) => new MemoryDevice({ sizeBytes }));
  const [main, ...spares] = media.map((m) => new KeepOpenDevice(m));
  const opened = await createSet({ main: main!, spares, blockSize: BS, name: "rm", journalBytes: 8192 });
  const dev = openRemappedDevice({ main: main!, spares, opened });
  for (let b = 0; b < dev.blockCount; b++) await dev.write(b * BS, pattern(BS, b));
  const slots0 = dev.spareUsage()[0]!.totalBlocks;
  for (let b = 0; b < slots0 + 5; b++) await dev.remapBlock(b);
  await assert.rejects(removeSpareFromServed(dev, 1), {
    code: "ESPAREINUSE",
    message: /spare 1 of set "rm" still holds 5 slots; drain it first/,
  });
  for (let b = 0; b < 5; b++) await dev.unremapBlock(b);
  await new DrainJob(dev, 1).start();
  await assert.rejects(removeSpareFromServed(dev, 2), {
    message: /set "rm" has no spare 2 \(its spares: 0, 1\)/,
  });
  await removeSpareFromServed(dev, 1);
  assert.equal(dev.spareUsage().length, 1);
  assert.equal(dev.setIdentity.spares.length, 1);
  await dev.close();
  const [mainR, ...sparesR] = media.map((m) => new KeepOpenDevice(m));
  const again = await openSet({ spares: [sparesR[0]!], main: mainR! });
  assert.deepEqual(again.missingSpares ?? [], []);
  const back = openRemappedDevice({ main: mainR!, spares: [sparesR[0]!], opened: again });
  for (let b = 0; b < back.blockCount; b++)
    assert.ok(same(await readBytes(back, b * BS, BS), pattern(BS, b)), `block ${b}`);
  await back.close();
  // The removed device holds no metadata of the set any more.
  await assert.rejects(openSet({ spares: media.slice(1).map((m) => new KeepOpenDevice(m)) }), {
    code: "EUNKNOWNSPARE",
  });
});

test("a crash at every write and flush of a remove leaves the old or the new membership", async () => {
  const recorder = new CrashRecorder();
  const SPARE = 512 << 10;
  const spares = [0, 1].map((i) => new CrashDevice({ sizeBytes: SPARE, name: `spare${i}`, recorder }));
  const mainMedia = new MemoryDevice({ sizeBytes: 1 << 20 });
  const opened = await createSet({
    main: new KeepOpenDevice(mainMedia),
    spares,
    blockSize: BS,
    name: "c",
    journalBytes: 8192,
  });
  const dev = openRemappedDevice({
    main: new KeepOpenDevice(mainMedia),
    spares: spares.map((s) => new KeepOpenDevice(s)),
    opened,
  });
  for (let b = 0; b < 4; b++) await dev.remapBlock(b);
  await dev.flush();
  const points: CrashPoint[][] = [];
  recorder.hook = () => {
    points.push(spares.map((s) => s.capture()));
  };
  await removeSpareFromServed(dev, 1);
  recorder.hook = undefined;
  points.push(spares.map((s) => s.capture()));
  await dev.close();
  const rng = new Prng(9);
  const tally = { states: 0, old: 0, removed: 0 };
  for (const point of points) {
    for (let v = 0; v < 4; v++) {
      tally.states++;
      const images = point.map((p) =>
        v === 0 ? p.durable.slice() : crashImage(p, rng, { tornProbability: 0.4 }),
      );
      const devices = images.map(
        (image, i) => new CrashDevice({ sizeBytes: SPARE, image, name: `spare${i}` }),
      );
      let set;
      try {
        set = await openSet({ spares: devices });
        assert.equal(set.store.identity.spares.length, 2);
        tally.old++;
      } catch (err) {
        assert.equal((err as { code?: string }).code, "EUNKNOWNSPARE");
        set = await openSet({ spares: [devices[0]!] });
        assert.equal(set.store.identity.spares.length, 1);
        assert.deepEqual(set.missingSpares ?? [], []);
        tally.removed++;
      }
      assert.deepEqual(Array.from(set.snapshot.blocks), [0, 1, 2, 3]);
      await set.store.close();
    }
  }
  console.log(
    `# remove spare: ${points.length} crash points, ${tally.states} crash states, ${tally.old} old, ${tally.removed} removed`,
  );
  assert.ok(tally.old > 0 && tally.removed > 0);
});

/** Block -> slot of every remapped block (first copies). */
const slotMap = (snap: { blocks: Float64Array; slots: Uint32Array }) =>
  new Map(Array.from(snap.blocks, (b, i) => [b, snap.slots[i]!] as const));
/** The committed table of a served set, as block -> slot. */
const tableOf = (dev: RemappedDevice) =>
  (dev.metadataStore as SpareStore).exclusive(async (x) => slotMap(x.snapshot()));

test("a middle spare leaves as a tombstone: slot numbers unchanged, data exact after reopen", async () => {
  const media = [2 << 20, 256 << 10, 256 << 10, 1 << 20].map((sizeBytes) => new MemoryDevice({ sizeBytes }));
  const [main, ...spares] = media.map((m) => new KeepOpenDevice(m));
  const opened = await createSet({ main: main!, spares, blockSize: BS, name: "mid", journalBytes: 8192 });
  const dev = openRemappedDevice({ main: main!, spares, opened });
  for (let b = 0; b < dev.blockCount; b++) await dev.write(b * BS, pattern(BS, b));
  const [s0, s1, s2] = dev.setIdentity.spares;
  // Fill-first: spare 0 full, 7 blocks on spare 1; then 6 on spare 2 while 0 and 1 are avoided.
  let next = 0;
  for (; next < s0!.slotCount + 7; next++) await dev.remapBlock(next);
  await assert.rejects(removeSpareFromServed(dev, 1), {
    code: "ESPAREINUSE",
    message: /spare 1 of set "mid" still holds 7 slots; drain it first/,
  });
  for (let b = 0; b < 4; b++) await dev.unremapBlock(b);
  await new DrainJob(dev, 1).start();
  dev.avoidSpare(0);
  for (const end = next + 6; next < end; next++) await dev.remapBlock(next);
  const before = await tableOf(dev);
  assert.ok(
    [...before.values()].some((slot) => slot >= s2!.firstSlot),
    "data on spare 2",
  );
  assert.ok([...before.values()].every((slot) => slot < s1!.firstSlot || slot >= s2!.firstSlot));
  await removeSpareFromServed(dev, 1);
  const identity = dev.setIdentity;
  assert.equal(identity.spares.length, 3);
  assert.equal(identity.spares[1]!.removed, true);
  assert.deepEqual(
    identity.spares.map((s) => [s.firstSlot, s.slotCount]),
    [s0, s1, s2].map((s) => [s!.firstSlot, s!.slotCount]),
  );
  assert.deepEqual(await tableOf(dev), before);
  // New remaps (even with spare 0 avoided and spare 2 full of room) never land on the tombstone.
  for (const end = next + 5; next < end; next++) await dev.remapBlock(next);
  const after = await tableOf(dev);
  assert.ok([...after.values()].every((slot) => slot < s1!.firstSlot || slot >= s2!.firstSlot));
  await dev.write(3 * BS, pattern(BS, 9999));
  await dev.close();

  const [mainR, ...all] = media.map((m) => new KeepOpenDevice(m));
  const live = [all[0]!, all[2]!];
  const again = await openSet({ spares: live, main: mainR! });
  assert.deepEqual(again.missingSpares ?? [], []);
  assert.equal(again.store.identity.spares[1]!.removed, true);
  assert.deepEqual(slotMap(again.snapshot), after);
  const back = openRemappedDevice({ main: mainR!, spares: live, opened: again });
  for (let b = 0; b < back.blockCount; b++)
    assert.ok(same(await readBytes(back, b * BS, BS), pattern(BS, b === 3 ? 9999 : b)), `block ${b}`);
  assert.equal(back.spareUsage().length, 3);
  assert.equal(back.spareUsage()[1]!.usedBlocks, 0);
  await assert.rejects(removeSpareFromServed(back, 1), { message: /has no spare 1 \(its spares: 0, 2\)/ });
  await back.close();
  // The removed device holds no metadata of the set any more: giving it is refused.
  await assert.rejects(openSet({ spares: media.slice(1).map((m) => new KeepOpenDevice(m)) }), {
    code: "EUNKNOWNSPARE",
  });
});

test("a crash at every write and flush of a middle remove leaves the old or the new membership", async () => {
  const recorder = new CrashRecorder();
  const SPARE = 512 << 10;
  const spares = [0, 1, 2].map((i) => new CrashDevice({ sizeBytes: SPARE, name: `spare${i}`, recorder }));
  const mainMedia = new MemoryDevice({ sizeBytes: 1 << 20 });
  const opened = await createSet({
    main: new KeepOpenDevice(mainMedia),
    spares,
    blockSize: BS,
    name: "c3",
    journalBytes: 8192,
  });
  const dev = openRemappedDevice({
    main: new KeepOpenDevice(mainMedia),
    spares: spares.map((s) => new KeepOpenDevice(s)),
    opened,
  });
  for (let b = 0; b < dev.blockCount; b++) await dev.write(b * BS, pattern(BS, b));
  for (let b = 0; b < 4; b++) await dev.remapBlock(b);
  dev.avoidSpare(0);
  dev.avoidSpare(1);
  for (let b = 4; b < 8; b++) await dev.remapBlock(b);
  await dev.flush();
  const before = await tableOf(dev);
  const s2 = dev.setIdentity.spares[2]!;
  assert.equal([...before.values()].filter((slot) => slot >= s2.firstSlot).length, 4);
  const points: CrashPoint[][] = [];
  recorder.hook = () => {
    points.push(spares.map((s) => s.capture()));
  };
  await removeSpareFromServed(dev, 1);
  recorder.hook = undefined;
  points.push(spares.map((s) => s.capture()));
  await dev.close();
  const rng = new Prng(13);
  const tally = { states: 0, old: 0, removed: 0 };
  for (const point of points) {
    for (let v = 0; v < 4; v++) {
      tally.states++;
      const images = point.map((p) =>
        v === 0 ? p.durable.slice() : crashImage(p, rng, { tornProbability: 0.4 }),
      );
      const devices = images.map(
        (image, i) => new CrashDevice({ sizeBytes: SPARE, image, name: `spare${i}` }),
      );
      let set;
      let given = devices;
      try {
        set = await openSet({ spares: devices });
        assert.equal(set.store.identity.spares.length, 3);
        assert.equal(set.store.identity.spares[1]!.removed, undefined);
        tally.old++;
      } catch (err) {
        assert.equal((err as { code?: string }).code, "EUNKNOWNSPARE");
        given = [devices[0]!, devices[2]!];
        set = await openSet({ spares: given });
        assert.equal(set.store.identity.spares[1]!.removed, true);
        tally.removed++;
      }
      assert.deepEqual(set.missingSpares ?? [], []);
      assert.deepEqual(slotMap(set.snapshot), before);
      const back = openRemappedDevice({ main: new KeepOpenDevice(mainMedia), spares: given, opened: set });
      for (let b = 0; b < 12; b++)
        assert.ok(same(await readBytes(back, b * BS, BS), pattern(BS, b)), `block ${b}`);
      await back.close();
    }
  }
  console.log(
    `# remove middle spare: ${points.length} crash points, ${tally.states} crash states, ${tally.old} old, ${tally.removed} removed`,
  );
  assert.ok(tally.old > 0 && tally.removed > 0);
});

test("offline: a middle spare of a set that is not served is removed under its lock", async () => {
  const media = [1 << 20, 256 << 10, 256 << 10, 512 << 10].map(
    (sizeBytes) => new MemoryDevice({ sizeBytes }),
  );
  const [main, ...spares] = media.map((m) => new KeepOpenDevice(m));
  const opened = await createSet({ main: main!, spares, blockSize: BS, name: "off", journalBytes: 8192 });
  const dev = openRemappedDevice({ main: main!, spares, opened });
  for (let b = 0; b < dev.blockCount; b++) await dev.write(b * BS, pattern(BS, b));
  for (let b = 0; b < 3; b++) await dev.remapBlock(b);
  dev.avoidSpare(0);
  dev.avoidSpare(1);
  for (let b = 3; b < 6; b++) await dev.remapBlock(b);
  assert.deepEqual(
    dev.spareUsage().map((u) => u.usedBlocks),
    [3, 0, 3],
  );
  await dev.close();
  const locks: string[] = [];
  const lock = async (uuid: string, name: string) => {
    locks.push(`lock ${name}`);
    return { release: async () => void locks.push(`release ${uuid === opened.store.identity.uuid}`) };
  };
  const fresh = () => media.slice(1).map((m) => new KeepOpenDevice(m));
  // Spare 2 holds 3 blocks: refused with the count, nothing written.
  await assert.rejects(removeSpareOffline({ members: fresh(), which: 2, lock }), {
    code: "ESPAREINUSE",
    message: /spare 2 of set "off" still holds 3 remapped blocks; drain it first/,
  });
  const members = fresh();
  const result = await removeSpareOffline({ members, which: members[1]!, lock });
  assert.equal(result.index, 1);
  assert.deepEqual(result.remaining, [members[0], members[2]]);
  assert.equal(result.identity.spares[1]!.removed, true);
  assert.deepEqual(locks, ["lock off", "release true", "lock off", "release true"]);
  const [mainR, ...all] = media.map((m) => new KeepOpenDevice(m));
  const live = [all[0]!, all[2]!];
  const again = await openSet({ spares: live, main: mainR! });
  assert.deepEqual(again.missingSpares ?? [], []);
  assert.deepEqual(Array.from(again.snapshot.blocks), [0, 1, 2, 3, 4, 5]);
  const back = openRemappedDevice({ main: mainR!, spares: live, opened: again });
  for (let b = 0; b < back.blockCount; b++)
    assert.ok(same(await readBytes(back, b * BS, BS), pattern(BS, b)), `block ${b}`);
  await back.close();
  await assert.rejects(removeSpareOffline({ members: fresh(), which: 0, lock }), { code: "EUNKNOWNSPARE" });
});

test("mirrored set: the empty middle spare leaves; both copies of every block stay on the other two", async () => {
  const media = [1 << 20, 256 << 10, 256 << 10, 256 << 10].map(
    (sizeBytes) => new MemoryDevice({ sizeBytes }),
  );
  const [main, ...spares] = media.map((m) => new KeepOpenDevice(m));
  const opened = await createSet({
    main: main!,
    spares,
    blockSize: BS,
    name: "mir",
    journalBytes: 8192,
    mirrorCopies: 2,
  });
  const dev = openRemappedDevice({ main: main!, spares, opened });
  for (let b = 0; b < dev.blockCount; b++) await dev.write(b * BS, pattern(BS, b));
  dev.avoidSpare(1);
  for (let b = 0; b < 4; b++) await dev.remapBlock(b);
  for (let b = 0; b < 4; b++) assert.deepEqual(dev.copySpares(b).sort(), [0, 2], `block ${b}`);
  await assert.rejects(removeSpareFromServed(dev, 2), {
    code: "ESPAREINUSE",
    message: /spare 2 of set "mir" still holds 4 slots; drain it first/,
  });
  await removeSpareFromServed(dev, 1);
  for (let b = 4; b < 6; b++) await dev.remapBlock(b);
  for (let b = 0; b < 6; b++) assert.deepEqual(dev.copySpares(b).sort(), [0, 2], `block ${b}`);
  await dev.write(5 * BS, pattern(BS, 555));
  await dev.close();
  const [mainR, ...all] = media.map((m) => new KeepOpenDevice(m));
  const live = [all[0]!, all[2]!];
  const again = await openSet({ spares: live, main: mainR! });
  assert.deepEqual(again.missingSpares ?? [], []);
  const back = openRemappedDevice({ main: mainR!, spares: live, opened: again });
  for (let b = 0; b < 6; b++) assert.deepEqual(back.copySpares(b).sort(), [0, 2], `block ${b}`);
  for (let b = 0; b < back.blockCount; b++)
    assert.ok(same(await readBytes(back, b * BS, BS), pattern(BS, b === 5 ? 555 : b)), `block ${b}`);
  await back.close();
});
