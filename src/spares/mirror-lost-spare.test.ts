// Replacing a lost spare of a mirrored set while serving: with spare 1 missing, `spare add` of a new
// device, a rebuild onto it and the removal of the missing spare (a tombstone), every remapped block
// exact at every step and after a crash at every write and flush of the whole procedure (which then
// resumes to the end). Also: a rebuild onto a named spare refuses a non-member, a missing, a removed
// and an avoided spare by name; an unmirrored set refuses to drop a missing spare that holds blocks.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readBytes } from "../block/base-device.js";
import type { BlockDevice } from "../block/block-device.js";
import { MemoryDevice } from "../block/memory-device.js";
import { Prng } from "../block/prng.js";
import { createSet } from "../metadata/create-set.js";
import { openSet } from "../metadata/open-set.js";
import { openRemappedDevice, type RemappedDevice } from "../remap/remapped-device.js";
import { withMissingSpares } from "../remap/set-devices.js";
import { KeepOpenDevice, pattern } from "../remap/testing/rig.js";
import { CrashDevice, CrashRecorder, type CrashPoint, crashImage } from "../testing/crash-device.js";
import { addSpareToServed } from "./add-spare-online.js";
import { MirrorRebuildJob } from "./mirror-rebuild.js";
import { removeSpareFromServed } from "./remove-spare.js";

const BS = 4096;
const SPARE = 512 << 10;
const REMAPPED = Array.from({ length: 12 }, (_, i) => 40 + i);

/** A mirrored set on crash devices s0, s1 (s2 blank, not a member); REMAPPED blocks on both. */
async function lostSpareSet(mirrorCopies: 1 | 2 = 2) {
  const recorder = new CrashRecorder();
  recorder.keepLog = false;
  const [s0, s1, s2] = [0, 1, 2].map((i) => new CrashDevice({ sizeBytes: SPARE, name: `s${i}`, recorder }));
  const mainMedia = new MemoryDevice({ sizeBytes: 1 << 20 });
  const opened = await createSet({
    main: new KeepOpenDevice(mainMedia),
    spares: [s0!, s1!],
    blockSize: BS,
    name: "lost",
    journalBytes: 8192,
    mirrorCopies,
  });
  const dev = openRemappedDevice({
    main: new KeepOpenDevice(mainMedia),
    spares: [s0!, s1!].map((s) => new KeepOpenDevice(s)),
    opened,
  });
  for (const [i, b] of REMAPPED.entries()) {
    // Unmirrored: the second half goes to spare 1, so that losing it loses blocks.
    if (mirrorCopies === 1 && i === REMAPPED.length / 2) dev.avoidSpare(0);
    await dev.write(b * BS, pattern(BS, b));
    await dev.remapBlock(b);
  }
  await dev.close();
  // The main's copy is wrong from now on: every read of a remapped block must come from a spare.
  for (const b of REMAPPED) await mainMedia.write(b * BS, new Uint8Array(BS));
  return { recorder, s0: s0!, s1: s1!, s2: s2!, mainMedia };
}

/** Serve the set from `given` (set index order; undefined = not given): missing ones as placeholders. */
async function serve(mainMedia: MemoryDevice, given: readonly (BlockDevice | undefined)[]) {
  const present = given.filter((d): d is BlockDevice => d !== undefined);
  const opened = await openSet({ spares: present.map((d) => new KeepOpenDevice(d)) });
  const byIndex: (BlockDevice | undefined)[] = [];
  for (const [i, d] of given.entries()) if (d) byIndex[i] = new KeepOpenDevice(d);
  const spares = withMissingSpares(byIndex, opened);
  return { dev: openRemappedDevice({ main: new KeepOpenDevice(mainMedia), spares, opened }), opened };
}

/** Every remapped block reads back exact (the count of those that do not). */
async function wrongBlocks(dev: RemappedDevice): Promise<number[]> {
  const wrong: number[] = [];
  for (const b of REMAPPED)
    if (!Buffer.from(await readBytes(dev, b * BS, BS)).equals(pattern(BS, b))) wrong.push(b);
  return wrong;
}

test("mirror 2, spare 1 lost: add a spare, rebuild onto it, remove the lost one; data exact at every step", async () => {
  const { s0, s1, s2, mainMedia } = await lostSpareSet();
  const { dev } = await serve(mainMedia, [s0, undefined]);
  assert.deepEqual(await wrongBlocks(dev), []);
  assert.equal(dev.status().mirror?.singleCopyBlocks, REMAPPED.length);

  // The lost spare still holds the second copies: refused with the count and what to do.
  await assert.rejects(removeSpareFromServed(dev, 1), {
    code: "ESPAREINUSE",
    message: new RegExp(
      `spare 1 of set "lost" is missing and still holds ${REMAPPED.length} slots; add a spare and run spare rebuild first`,
    ),
  });
  const added = await addSpareToServed(dev, new KeepOpenDevice(s2));
  assert.equal(added.added.index, 2);
  assert.deepEqual(await wrongBlocks(dev), []);

  const progress = await new MirrorRebuildJob(dev, { onto: 2 }).start();
  assert.deepEqual(
    [progress.state, progress.done, progress.rebuilt, progress.singleCopy, progress.onto],
    ["done", REMAPPED.length, REMAPPED.length, 0, 2],
  );
  for (const b of REMAPPED) assert.deepEqual(dev.copySpares(b).sort(), [0, 2], `block ${b}`);
  assert.deepEqual(await wrongBlocks(dev), []);

  const removed = await removeSpareFromServed(dev, 1);
  assert.match(removed.describe(), /missing spare 1 \(.*last seen as s1\)/);
  assert.equal(dev.setIdentity.spares[1]!.removed, true);
  assert.equal(dev.status().mirror?.singleCopyBlocks, 0);
  assert.deepEqual(
    dev.metadataCopies().map((c) => [c.spareIndex, c.state]),
    [
      [0, "ok"],
      [2, "ok"],
    ],
    "the lost spare is no longer listed as a missing copy",
  );
  assert.deepEqual(await wrongBlocks(dev), []);
  await dev.close();

  // The set opens complete from s0 and s2; the lost device, if it comes back, is refused by name.
  const again = await serve(mainMedia, [s0, undefined, s2]);
  assert.deepEqual(again.opened.missingSpares, []);
  assert.deepEqual(await wrongBlocks(again.dev), []);
  for (const b of REMAPPED) assert.deepEqual(again.dev.copySpares(b).sort(), [0, 2]);
  await again.dev.close();
  await assert.rejects(openSet({ spares: [s0, s1, s2] }), {
    code: "EUNKNOWNSPARE",
    message: /s1 was spare 1 of set "lost" .*which has been removed from the set; do not give it/,
  });
  // s2 alone holds every block.
  const alone = await serve(mainMedia, [undefined, undefined, s2]);
  assert.deepEqual(await wrongBlocks(alone.dev), []);
  await alone.dev.close();
});

test("rebuild onto a spare: refused by name unless a present member takes new slots; its only copy stays single", async () => {
  const { s0, s2, mainMedia } = await lostSpareSet();
  const { dev } = await serve(mainMedia, [s0, undefined]);
  const refused = (onto: number, why: RegExp) =>
    assert.throws(() => new MirrorRebuildJob(dev, { onto, ontoName: `spare ${onto} (dev${onto})` }), {
      code: "EBUSY",
      message: why,
    });
  refused(7, /cannot rebuild onto spare 7 \(dev7\) of set "lost": it is not a member \(spares 0\.\.1\)/);
  refused(1, /cannot rebuild onto spare 1 \(dev1\) of set "lost": it is missing/);
  // Spare 0 holds the only copy of each block: no second copy can go there.
  const onZero = await new MirrorRebuildJob(dev, { onto: 0 }).start();
  assert.deepEqual([onZero.rebuilt, onZero.singleCopy], [0, REMAPPED.length]);
  await addSpareToServed(dev, new KeepOpenDevice(s2));
  dev.avoidSpare(2);
  refused(2, /cannot rebuild onto spare 2 \(dev2\) of set "lost": it takes no new slots/);
  assert.deepEqual(await wrongBlocks(dev), []);
  await dev.close();
});

test("unmirrored: a missing spare holding blocks is not dropped (their only copy); an empty one is", async () => {
  const { s0, mainMedia } = await lostSpareSet(1);
  const { dev } = await serve(mainMedia, [s0, undefined]);
  const onOne = dev.blocksOnSpare(1).length;
  assert.equal(onOne, REMAPPED.length / 2);
  await assert.rejects(removeSpareFromServed(dev, 1), {
    code: "ESPAREINUSE",
    message: new RegExp(`is missing and still holds ${onOne} slots; their only copy is on it`),
  });
  // Rewriting those blocks puts them on spare 0; then the missing spare holds nothing and leaves.
  for (const b of dev.blocksOnSpare(1)) await dev.write(b * BS, pattern(BS, b));
  assert.deepEqual(dev.blocksOnSpare(1), []);
  await removeSpareFromServed(dev, 1);
  assert.deepEqual(await wrongBlocks(dev), []);
  await dev.close();
  const again = await serve(mainMedia, [s0]);
  assert.deepEqual(again.opened.missingSpares, []);
  assert.equal(again.dev.setIdentity.spares[1]!.removed, true, "a missing last spare stays a tombstone");
  assert.deepEqual(await wrongBlocks(again.dev), []);
  await again.dev.close();
});

test("a crash at every write and flush of add + rebuild + remove of a lost spare: data exact, resumable", async () => {
  const { recorder, s0, s2, mainMedia } = await lostSpareSet();
  const { dev } = await serve(mainMedia, [s0, undefined]);
  const points: CrashPoint[][] = [];
  recorder.hook = () => {
    points.push([s0.capture(), s2.capture()]);
  };
  await addSpareToServed(dev, new KeepOpenDevice(s2));
  await new MirrorRebuildJob(dev, { onto: 2 }).start();
  await removeSpareFromServed(dev, 1);
  recorder.hook = undefined;
  points.push([s0.capture(), s2.capture()]);
  await dev.close();

  const rng = new Prng(31);
  const tally = { states: 0, withoutNew: 0, lostStillMember: 0, done: 0 };
  for (const point of points) {
    for (let v = 0; v < 2; v++) {
      tally.states++;
      const [c0, c2] = point.map(
        (p, i) =>
          new CrashDevice({
            sizeBytes: SPARE,
            image: v === 0 ? p.durable.slice() : crashImage(p, rng, { tornProbability: 0.4 }),
            name: `s${i === 0 ? 0 : 2}`,
          }),
      );
      let served: Awaited<ReturnType<typeof serve>>;
      let member = true;
      try {
        served = await serve(mainMedia, [c0, undefined, c2]);
      } catch (err) {
        // Before its superblocks the new device is no member yet.
        assert.equal((err as { code?: string }).code, "EUNKNOWNSPARE", String(err));
        served = await serve(mainMedia, [c0, undefined]);
        member = false;
        tally.withoutNew++;
      }
      const { dev: back } = served;
      assert.deepEqual(await wrongBlocks(back), [], `state ${tally.states}`);
      // Resume: whatever is left of the procedure runs to the end.
      if (!member) await addSpareToServed(back, new KeepOpenDevice(c2!));
      await new MirrorRebuildJob(back, { onto: 2 }).start();
      if (!back.setIdentity.spares[1]!.removed) {
        tally.lostStillMember++;
        await removeSpareFromServed(back, 1);
      } else tally.done++;
      assert.deepEqual(await wrongBlocks(back), []);
      await back.close();
      const final = await serve(mainMedia, [c0, undefined, c2]);
      assert.deepEqual(final.opened.missingSpares, []);
      assert.equal(final.dev.status().mirror?.singleCopyBlocks, 0);
      assert.deepEqual(await wrongBlocks(final.dev), []);
      await final.dev.close();
    }
  }
  console.log(
    `# lost-spare replacement: ${points.length} crash points, ${tally.states} crash states (${tally.withoutNew} before the new spare joined, ${tally.lostStillMember} with the lost spare still a member, ${tally.done} complete)`,
  );
  assert.ok(tally.withoutNew > 0 && tally.lostStillMember > 0 && tally.done > 0);
});
