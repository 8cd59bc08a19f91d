// Removing a spare from a served set: refused while it holds blocks (with the count) or when it is
// not the last one; after a drain it leaves, its metadata is wiped, the set reopens without it and
// without a degraded state; a crash at every write and flush leaves the old or the new membership.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readBytes } from "../block/base-device.js";
import { MemoryDevice } from "../block/memory-device.js";
import { Prng } from "../block/prng.js";
import { createSet } from "../metadata/create-set.js";
import { openSet } from "../metadata/open-set.js";
import { openRemappedDevice } from "../remap/remapped-device.js";
import { KeepOpenDevice, pattern } from "../remap/testing/rig.js";
import { CrashDevice, CrashRecorder, type CrashPoint, crashImage } from "../testing/crash-device.js";
import { DrainJob } from "./drain.js";
import { removeSpareFromServed } from "./remove-spare.js";

const BS = 4096;
const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(b);

test("remove refuses a spare with blocks and one that is not last; after a drain it leaves for good", async () => {
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
  await assert.rejects(removeSpareFromServed(dev, 0), {
    message: /only the last spare \(1\) can be removed, not 0/,
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
