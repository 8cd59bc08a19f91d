// Draining a spare of a served set: verified user I/O runs through it, every block ends on another
// spare with its data, pause/resume holds between blocks, a drain without room is refused, and a
// crash at every write and flush of a drain leaves every block readable with its data.
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
import { DrainJob, blocksOnSpare } from "./drain.js";

const BS = 4096;
const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(b);

async function servedSet(spareBytes = 1 << 20) {
  const media = [2 << 20, spareBytes, spareBytes].map((sizeBytes) => new MemoryDevice({ sizeBytes }));
  const [main, ...spares] = media.map((m) => new KeepOpenDevice(m));
  const opened = await createSet({ main: main!, spares, blockSize: BS, name: "d", journalBytes: 8192 });
  const dev = openRemappedDevice({ main: main!, spares, opened });
  for (let b = 0; b < dev.blockCount; b++) await dev.write(b * BS, pattern(BS, b));
  return { media, dev };
}

test("a drain moves every block off the spare while verified I/O goes on; the data survives reopen", async () => {
  const { media, dev } = await servedSet();
  for (let b = 100; b < 140; b++) await dev.remapBlock(b);
  assert.equal(blocksOnSpare(dev, 0).length, 40);
  const rng = new Prng(3);
  const expected = new Map<number, number>();
  let finished = false;
  let ops = 0;
  const workload = (async () => {
    while (!finished || ops < 40) {
      // Half of the traffic hits the blocks being moved.
      const b = rng.nextInt(2) === 0 ? 100 + rng.nextInt(40) : rng.nextInt(dev.blockCount);
      if (rng.nextInt(2) === 0) {
        await dev.write(b * BS, pattern(BS, 5000 + ops));
        expected.set(b, 5000 + ops);
      } else
        assert.ok(same(await readBytes(dev, b * BS, BS), pattern(BS, expected.get(b) ?? b)), `block ${b}`);
      ops++;
    }
  })();
  let clock = 0;
  const job = new DrainJob(dev, 0, { now: () => (clock += 10) });
  const [progress] = await Promise.all([job.start().finally(() => (finished = true)), workload]);
  assert.equal(progress.state, "done");
  assert.equal(progress.done, 40);
  assert.equal(progress.total, 40);
  assert.ok(progress.rateBlocksPerSecond > 0);
  assert.deepEqual(blocksOnSpare(dev, 0), []);
  assert.deepEqual(
    dev.spareUsage().map((s) => s.usedBlocks),
    [0, 40],
  );
  // New remaps avoid the drained spare.
  await dev.remapBlock(500);
  assert.equal(dev.spareIndexOf(500), 1);
  await dev.close();
  const [main, ...spares] = media.map((m) => new KeepOpenDevice(m));
  const again = openRemappedDevice({ main: main!, spares, opened: await openSet({ spares, main: main! }) });
  assert.deepEqual(blocksOnSpare(again, 0), []);
  for (let b = 0; b < again.blockCount; b++)
    assert.ok(
      same(await readBytes(again, b * BS, BS), pattern(BS, expected.get(b) ?? b)),
      `block ${b} reopened`,
    );
  await again.close();
});

test("pause holds a drain between blocks and resume finishes it; no room is refused with the counts", async () => {
  const { dev } = await servedSet();
  for (let b = 10; b < 20; b++) await dev.remapBlock(b);
  const job = new DrainJob(dev, 0);
  assert.equal(job.pause().state, "paused");
  const running = job.start();
  await dev.idle();
  assert.equal(job.progress().done, 0, "nothing moves while paused");
  assert.equal(job.resume().state, "running");
  assert.equal((await running).done, 10);
  assert.throws(() => new DrainJob(dev, 2), { message: /no spare 2 \(0\.\.1\)/ });
  await dev.close();

  // Spare 1 is smaller than what spare 0 holds.
  const small = await servedSet(256 << 10);
  const free1 = small.dev.spareUsage()[1]!.totalBlocks;
  for (let b = 0; b < free1 + 1; b++) await small.dev.remapBlock(b);
  // next-fit fills spare 0 first; make sure spare 0 holds more than spare 1 can take.
  const on0 = blocksOnSpare(small.dev, 0).length;
  const room = small.dev.spareUsage()[1]!.freeBlocks;
  assert.ok(on0 > room);
  await assert.rejects(new DrainJob(small.dev, 0).start(), {
    code: "EBUSY",
    message: new RegExp(`spare 0 holds ${on0} blocks, the other spares have ${room} free slots`),
  });
  await small.dev.close();
});

test("a crash at every write and flush of a drain leaves every block readable with its data", async () => {
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
  for (let b = 0; b < 16; b++) await dev.write(b * BS, pattern(BS, b));
  for (let b = 0; b < 6; b++) await dev.remapBlock(b);
  // The spare slots now hold the data; main's copies are overwritten so only the slots have it.
  await dev.flush();
  for (let b = 0; b < 6; b++) await mainMedia.write(b * BS, new Uint8Array(BS));
  const points: CrashPoint[][] = [];
  recorder.hook = () => {
    points.push(spares.map((s) => s.capture()));
  };
  await new DrainJob(dev, 0).start();
  recorder.hook = undefined;
  points.push(spares.map((s) => s.capture()));
  const rng = new Prng(21);
  let states = 0;
  for (const point of points) {
    for (let v = 0; v < 4; v++) {
      states++;
      const images = point.map((p) =>
        v === 0 ? p.durable.slice() : crashImage(p, rng, { tornProbability: 0.4 }),
      );
      const devices = images.map(
        (image, i) => new CrashDevice({ sizeBytes: SPARE, image, name: `spare${i}` }),
      );
      const main = new KeepOpenDevice(mainMedia);
      const reopened = await openSet({ spares: devices, main });
      const back = openRemappedDevice({ main, spares: devices, opened: reopened });
      for (let b = 0; b < 6; b++)
        assert.ok(
          same(await readBytes(back, b * BS, BS), pattern(BS, b)),
          `block ${b} after a crash (state ${states})`,
        );
      await reopened.store.close();
    }
  }
  console.log(`# drain: ${points.length} crash points, ${states} crash states`);
  await dev.close();
});
