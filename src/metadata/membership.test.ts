// Adding a spare to a set: the new membership opens with the same table, refusals name the device,
// and a crash at every write and flush of the add leaves the old or the new membership, the table
// exact, and an add that can be finished by running it again.
import { test } from "node:test";
import assert from "node:assert/strict";
import { MemoryDevice } from "../block/memory-device.js";
import { Prng } from "../block/prng.js";
import type { BlockDevice } from "../block/block-device.js";
import { CrashDevice, CrashRecorder, type CrashPoint, crashImage } from "../testing/crash-device.js";
import { createSet } from "./create-set.js";
import { openSet } from "./open-set.js";
import { addSpare, addSpareOnline } from "./membership.js";
import type { SpareStore } from "./spare-store.js";
import { canonical, makeSet } from "./test-fixtures.js";
import type { JournalRecord } from "./metadata-store.js";

const SPARE_BYTES = 262144;
const records: JournalRecord[] = [
  { type: "remap", block: 3, slot: 0, reason: "write-error" },
  { type: "remap", block: 9, slot: 40, reason: "read-error" },
  { type: "pending", block: 17 },
];

test("an added spare extends the slot space and the table opens unchanged", async () => {
  const { spares, opened } = await makeSet();
  await opened.store.append(records);
  await opened.store.close();
  const before = await openSet({ spares });
  const state = canonical(before.snapshot);
  const added = new MemoryDevice({ sizeBytes: 262144, name: "new" });
  const after = await addSpare(before, spares, added);
  const { identity } = after.store;
  assert.equal(identity.spares.length, 3);
  const [a, b, c] = identity.spares;
  assert.equal(c!.firstSlot, a!.slotCount + b!.slotCount);
  assert.equal(canonical(after.snapshot), state);
  assert.deepEqual(
    after.store.copies().map((x) => [x.device, x.state]),
    [
      ["spare0", "ok"],
      ["spare1", "ok"],
      [added.describe(), "ok"],
    ],
  );
  // A slot of the new spare is usable and durable.
  await after.store.append([{ type: "remap", block: 30, slot: c!.firstSlot, reason: "manual" }]);
  await after.store.close();
  const again = await openSet({ spares: [added, ...spares], repair: false });
  assert.equal(again.store.identity.spares.length, 3);
  assert.match(canonical(again.snapshot), new RegExp(`30:${c!.firstSlot}`));
  // Without the new spare the set opens degraded, naming it by its last known device.
  await again.store.close();
  const degraded = await openSet({ spares });
  assert.deepEqual(
    degraded.missingSpares?.map((m) => [m.index, m.lastKnownDevice]),
    [[2, added.describe()]],
  );
  await degraded.store.close();
});

test("adding refuses a member, a spare of another set, a too small device and a degraded set", async () => {
  const { spares, opened } = await makeSet();
  await assert.rejects(addSpare(opened, spares, spares[0]!), { code: "ESPAREINUSE", message: /spare0/ });
  const other = await makeSet();
  await other.opened.store.close();
  await assert.rejects(addSpare(opened, spares, other.spares[1]!), {
    code: "EFOREIGN",
    message: /spare1 holds dmremap metadata of set "test"/,
  });
  await assert.rejects(addSpare(opened, spares, new MemoryDevice({ sizeBytes: 16384 })), {
    code: "ESPARESMALL",
    message: /mem:16K \(16384 bytes\) is too small/,
  });
  await opened.store.close();
  const degraded = await openSet({ spares: [spares[0]!] });
  await assert.rejects(addSpare(degraded, [spares[0]!], new MemoryDevice({ sizeBytes: 262144 })), {
    code: "EINVAL",
    message: /running without 1 of its spares/,
  });
  await degraded.store.close();
  // force overwrites another set's spare.
  const reopened = await openSet({ spares });
  const done = await addSpare(reopened, spares, other.spares[1]!, { force: true });
  assert.equal(done.store.identity.spares.length, 3);
  await done.store.close();
});

/** Crash devices from images (the recorder is fresh: nothing shared with the run that made them). */
const fromImages = (images: readonly Uint8Array[], names: readonly string[]) =>
  images.map((image, i) => new CrashDevice({ sizeBytes: image.length, image, name: names[i]! }));

test("a crash at every write and flush of an add leaves the old or the new membership", async () => {
  const recorder = new CrashRecorder();
  const names = ["spare0", "spare1", "new"];
  const devices = names.map((name) => new CrashDevice({ sizeBytes: SPARE_BYTES, name, recorder }));
  const main = new MemoryDevice({ sizeBytes: 65536, name: "main" });
  const created = await createSet({
    main,
    spares: devices.slice(0, 2),
    blockSize: 512,
    name: "t",
    journalBytes: 8192,
  });
  await created.store.append(records);
  await created.store.close();
  const members = devices.slice(0, 2);
  const opened = await openSet({ spares: members });
  const state = canonical(opened.snapshot);
  const points: CrashPoint[][] = [];
  recorder.hook = () => {
    points.push(devices.map((d) => d.capture()));
  };
  const done = await addSpare(opened, members, devices[2]!);
  await done.store.close();
  recorder.hook = undefined;
  points.push(devices.map((d) => d.capture()));

  const rng = new Prng(13);
  const tally = { states: 0, old: 0, added: 0, resumed: 0 };
  for (const point of points) {
    const variants = [0, 1, 2, 3, 4, 5].map(() =>
      point.map((p) => crashImage(p, rng, { tornProbability: 0.4 })),
    );
    variants.push(point.map((p) => p.durable.slice()));
    for (const images of variants) {
      tally.states++;
      // The members alone always open, with the exact table, in one membership or the other.
      const alone = await openSet({ spares: fromImages(images.slice(0, 2), names) });
      assert.equal(canonical(alone.snapshot), state);
      const size = alone.store.identity.spares.length;
      assert.ok(size === 2 || size === 3, `membership of ${size} spares`);
      if (size === 3)
        assert.deepEqual(
          alone.missingSpares?.map((m) => m.index),
          [2],
        );
      await alone.store.close();
      // With the new device: either it is a member (add complete), or the add is run again.
      const all = fromImages(images, names);
      let result: Awaited<ReturnType<typeof openSet>>;
      try {
        result = await openSet({ spares: all });
        if (result.store.identity.spares.length === 3) tally.added++;
      } catch (err) {
        assert.match((err as { code?: string }).code ?? "", /^(EUNKNOWNSPARE|ESPARESMALL)$/);
        result = await openSet({ spares: all.slice(0, 2) });
      }
      if (result.store.identity.spares.length === 2) {
        tally.old++;
        result = await addSpare(result, all.slice(0, 2) as BlockDevice[], all[2]!, { force: true });
        tally.resumed++;
      }
      assert.equal(canonical(result.snapshot), state);
      assert.equal(result.store.identity.spares.length, 3);
      assert.deepEqual(
        result.store.copies().map((c) => c.state),
        ["ok", "ok", "ok"],
      );
      await result.store.close();
    }
  }
  console.log(
    `# add spare: ${points.length} crash points, ${tally.states} crash states, ${tally.old} old, ${tally.added} added, ${tally.resumed} resumed`,
  );
  assert.ok(tally.old > 0 && tally.added > 0);
});

test("a crash at every write and flush of an online add, with appends racing it, loses nothing acknowledged", async () => {
  const recorder = new CrashRecorder();
  const names = ["spare0", "spare1", "new"];
  const devices = names.map((name) => new CrashDevice({ sizeBytes: SPARE_BYTES, name, recorder }));
  const main = new MemoryDevice({ sizeBytes: 65536, name: "main" });
  const created = await createSet({
    main,
    spares: devices.slice(0, 2),
    blockSize: 512,
    name: "t",
    journalBytes: 8192,
  });
  const store = created.store as SpareStore;
  await store.append(records);
  const acked = new Set<number>();
  const issued = new Set<number>();
  const points: { devices: CrashPoint[]; acked: Set<number>; issued: Set<number> }[] = [];
  recorder.hook = () => {
    points.push({ devices: devices.map((d) => d.capture()), acked: new Set(acked), issued: new Set(issued) });
  };
  // Pending marks race the add: some queue behind it, some land before.
  const appends = [20, 21, 22, 23, 24, 25].map(async (block, i) => {
    if (i >= 3) await Promise.resolve();
    issued.add(block);
    await store.append([{ type: "pending", block }]);
    acked.add(block);
  });
  const added = await addSpareOnline(store, devices[2]!);
  await Promise.all(appends);
  await store.append([{ type: "remap", block: 30, slot: added.firstSlot, reason: "manual" }]);
  await store.close();
  recorder.hook = undefined;
  points.push({ devices: devices.map((d) => d.capture()), acked: new Set(acked), issued: new Set(issued) });

  const rng = new Prng(17);
  let states = 0;
  for (const point of points) {
    const variants = [0, 1, 2, 3].map(() =>
      point.devices.map((p) => crashImage(p, rng, { tornProbability: 0.4 })),
    );
    variants.push(point.devices.map((p) => p.durable.slice()));
    for (const images of variants) {
      states++;
      for (const given of [2, 3]) {
        let opened: Awaited<ReturnType<typeof openSet>>;
        try {
          opened = await openSet({ spares: fromImages(images.slice(0, given), names) });
        } catch (err) {
          // Only the new device can be refused: before its superblocks it is no member.
          assert.equal(given, 3);
          assert.equal((err as { code?: string }).code, "EUNKNOWNSPARE");
          continue;
        }
        const pending = new Set(Array.from(opened.snapshot.pending));
        for (const b of point.acked) assert.ok(pending.has(b), `acknowledged pending ${b} lost`);
        for (const b of pending) assert.ok(b === 17 || point.issued.has(b), `pending ${b} never issued`);
        assert.ok([2, 3].includes(opened.store.identity.spares.length));
        const remaps = canonical(opened.snapshot).split("|")[0]!;
        assert.ok(remaps.startsWith("3:0,9:40"), remaps);
        await opened.store.close();
      }
    }
  }
  console.log(
    `# online add: ${points.length} crash points, ${states} crash states (each opened with and without the new spare)`,
  );
});
