// Draining a spare of a served set (in batches): verified user I/O runs through it, every block ends
// on another spare with its data and the drain is recorded across a reopen, pause/resume holds
// between batches, a drain without room is refused, a crash at every write and flush leaves every
// block readable and the drain resumable, an unreadable old slot loses only its own block, and a
// destination whose writes fail keeps the blocks in place; spares opened O_DIRECT get larger batches;
// batches are committed in groups (crash-safe at every step) and at once when user I/O waits for one;
// while user I/O runs the batches are small, and large again once it has stopped for the hold time.
import { test } from "node:test";
import { nextTurn } from "../core/loop-turns.js";
import assert from "node:assert/strict";
import { tryReadNow } from "../block/answer-now.js";
import { readBytes } from "../block/base-device.js";
import type { WriteOptions } from "../block/block-device.js";
import { MediumError } from "../block/errors.js";
import { MemoryDevice } from "../block/memory-device.js";
import { Prng } from "../block/prng.js";
import { createSet } from "../metadata/create-set.js";
import { openSet } from "../metadata/open-set.js";
import type { SpareStore } from "../metadata/spare-store.js";
import { openRemappedDevice } from "../remap/remapped-device.js";
import { KeepOpenDevice, pattern } from "../remap/testing/rig.js";
import { samplesAtTurns } from "../testing/loop-turns-probe.js";
import { CrashDevice, CrashRecorder, type CrashPoint, crashImage } from "../testing/crash-device.js";
import { join } from "node:path";
import { rm } from "node:fs/promises";
import { directIoTotals } from "../block/direct-io.js";
import { directTestDir } from "../block/direct-test-dir.js";
import { FileDevice } from "../block/file-device.js";
import {
  DRAIN_BATCH_BYTES,
  DRAIN_BUSY_BATCH_BYTES,
  DRAIN_BUSY_HOLD_MS,
  DRAIN_DIRECT_BATCH_BYTES,
  DrainJob,
  blocksOnSpare,
  defaultBatchBytes,
} from "./drain.js";

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
      // Served user I/O arrives through the event loop; memory devices answer at once, so the
      // workload gives the loop turns (the drain gives its own between batches).
      if (++ops % 8 === 0) await nextTurn();
    }
  })();
  let clock = 0;
  // Batches of 4 blocks: ten batches, each read while the one before is written.
  const job = new DrainJob(dev, 0, { now: () => (clock += 10), batchBytes: 4 * BS });
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
  // The drained spare is recorded as such: new slots keep avoiding it after the reopen.
  assert.deepEqual(again.metadataStore.drainingSpares, [0]);
  await again.remapBlock(501);
  assert.equal(again.spareIndexOf(501), 1);
  expected.set(501, 501);
  for (let b = 0; b < again.blockCount; b++)
    assert.ok(
      same(await readBytes(again, b * BS, BS), pattern(BS, expected.get(b) ?? b)),
      `block ${b} reopened`,
    );
  await again.close();
});

test("a drain over spares that answer at once gives the event loop turns between batches", async () => {
  // Memory devices answer every read, write and flush at once: without turns of its own the drain
  // would run to its end in microtasks while no socket, timer or HTTP request is served.
  const { dev } = await servedSet();
  for (let b = 0; b < 64; b++) await dev.remapBlock(b);
  // 16 batches of 4 blocks, a turn before each.
  const job = new DrainJob(dev, 0, { batchBytes: 4 * BS });
  const running = job.start();
  const doneAtTurn = await samplesAtTurns(running, () => job.progress().done);
  assert.equal((await running).done, 64);
  // Blocks done at each turn (moves count at their group's commit): about one turn per batch, and
  // some between two commits.
  const turns = `blocks moved at each turn: ${doneAtTurn.join(" ")}`;
  assert.ok(doneAtTurn.length >= 8, turns);
  assert.ok(
    doneAtTurn.some((d) => d > 0 && d < 64),
    turns,
  );
  await dev.close();
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

test("every depth moves every block with its data while verified I/O goes on; a bad depth is refused", async () => {
  for (const depth of [1, 3, 8]) {
    const { dev } = await servedSet();
    for (let b = 0; b < 40; b++) await dev.remapBlock(b);
    const rng = new Prng(depth);
    const running = new DrainJob(dev, 0, { batchBytes: 3 * BS, depth }).start();
    // Writes to random blocks, remapped or not, while several batches are in flight.
    const written = new Map<number, Uint8Array>();
    for (let i = 0; i < 30; i++) {
      const b = rng.nextInt(64);
      const data = pattern(BS, 1000 + i);
      await dev.write(b * BS, data);
      written.set(b, data);
    }
    const done = await running;
    assert.deepEqual([done.state, done.done], ["done", 40], `depth ${depth}`);
    assert.equal(blocksOnSpare(dev, 0).length, 0, `depth ${depth}`);
    for (let b = 0; b < 64; b++)
      assert.ok(
        same(await readBytes(dev, b * BS, BS), written.get(b) ?? pattern(BS, b)),
        `block ${b}, depth ${depth}`,
      );
    assert.equal(dev.spareUsage()[0]!.usedBlocks, 0, "every old slot is freed");
    assert.throws(() => new DrainJob(dev, 1, { depth: 0 }), {
      message: /drain depth 0 is not an integer in 1\.\.64/,
    });
    await dev.close();
  }
});

/**
 * Drain `blocks` remapped blocks off spare 0 in batches of `batchBlocks` with a crash recorded at
 * every write and flush; every crash state (durable image, and torn ones) must reopen with every
 * block exact and let the drain resume to the end. Returns counts, and the journal appends and
 * checkpoints of the recorded drain.
 */
async function crashEveryStep(blocks: number, batchBlocks: number, seed: number) {
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
  for (let b = 0; b < blocks + 10; b++) await dev.write(b * BS, pattern(BS, b));
  for (let b = 0; b < blocks; b++) await dev.remapBlock(b);
  // The spare slots now hold the data; main's copies are overwritten so only the slots have it.
  await dev.flush();
  for (let b = 0; b < blocks; b++) await mainMedia.write(b * BS, new Uint8Array(BS));
  const points: CrashPoint[][] = [];
  recorder.hook = () => {
    points.push(spares.map((s) => s.capture()));
  };
  const stats = (dev.metadataStore as SpareStore).stats;
  const commitsBefore = stats.batches + stats.checkpoints;
  await new DrainJob(dev, 0, { batchBytes: batchBlocks * BS }).start();
  const commits = stats.batches + stats.checkpoints - commitsBefore;
  recorder.hook = undefined;
  points.push(spares.map((s) => s.capture()));
  const rng = new Prng(seed);
  let states = 0;
  let complete = 0;
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
      for (let b = 0; b < blocks; b++)
        assert.ok(
          same(await readBytes(back, b * BS, BS), pattern(BS, b)),
          `block ${b} after a crash (state ${states})`,
        );
      // The drain resumes from what is left on the spare and completes.
      const left = blocksOnSpare(back, 0).length;
      if (left === 0) complete++;
      // Once a block has moved, the drain is recorded (allocation avoids the spare after a restart).
      if (left < blocks) assert.deepEqual(back.metadataStore.drainingSpares, [0], `state ${states}`);
      const resumed = await new DrainJob(back, 0, { batchBytes: batchBlocks * BS }).start();
      assert.equal(resumed.done, left, `state ${states}`);
      assert.deepEqual(blocksOnSpare(back, 0), [], `state ${states}`);
      for (let b = 0; b < blocks; b++)
        assert.ok(
          same(await readBytes(back, b * BS, BS), pattern(BS, b)),
          `block ${b} resumed (state ${states})`,
        );
      await back.close();
    }
  }
  await dev.close();
  return { points: points.length, states, complete, commits };
}

test("a crash at every write and flush of a drain leaves every block readable and the drain resumes to the end", async () => {
  // Batches of 2 blocks: three batches, committed together as the copiers finish.
  const { points, states, complete } = await crashEveryStep(6, 2, 21);
  console.log(
    `# drain: ${points} crash points, ${states} crash states, ${complete} complete, ${states - complete} resumed`,
  );
  assert.ok(complete > 0 && complete < states, "some states are before the drain ends, some after");
});

test("batches are committed in groups while the copies go on; a crash at every write and flush of a grouped drain recovers every block exact", async () => {
  // 24 one-block batches, two copied at a time: the committer takes groups of written batches.
  const { points, states, complete, commits } = await crashEveryStep(24, 1, 22);
  console.log(
    `# grouped drain: ${commits} commits for 24 batches, ${points} crash points, ${states} crash states, ${complete} complete`,
  );
  assert.ok(commits >= 2 && commits < 24, `24 batches took ${commits} metadata commits`);
  assert.ok(complete > 0 && complete < states, "some states are before the drain ends, some after");
});

/** A spare whose reads touching byte `badBytes` fail (a bad sector under one slot). */
class BadSector extends KeepOpenDevice {
  badBytes = -1;
  /** Lengths of the reads asked of it. */
  readonly readLengths: number[] = [];
  protected override _read(offsetBytes: number, target: Uint8Array): Promise<void> {
    this.readLengths.push(target.length);
    if (this.badBytes >= offsetBytes && this.badBytes < offsetBytes + target.length)
      return Promise.reject(new MediumError("spare0", "read", offsetBytes, target.length));
    return super._read(offsetBytes, target);
  }
}

test("an unreadable old slot in a run moves its block with its sectors lost; the rest of the run moves intact", async () => {
  const media = [1 << 20, 1 << 20, 1 << 20].map((sizeBytes) => new MemoryDevice({ sizeBytes }));
  const bad = new BadSector(media[1]!);
  const [main, spare1] = [new KeepOpenDevice(media[0]!), new KeepOpenDevice(media[2]!)];
  const opened = await createSet({
    main,
    spares: [bad, spare1],
    blockSize: BS,
    name: "l",
    journalBytes: 8192,
  });
  const dev = openRemappedDevice({ main, spares: [bad, spare1], opened });
  for (let b = 0; b < 16; b++) await dev.write(b * BS, pattern(BS, b));
  // Remapped last block first: the slots run opposite to the blocks (the batch reads in slot order).
  for (let b = 7; b >= 0; b--) await dev.remapBlock(b);
  // Slots are handed out in order: block 3's slot is the fifth of spare 0.
  bad.badBytes = dev.setIdentity.spares[0]!.dataOffsetBytes + 4 * BS + 100;
  const progress = await new DrainJob(dev, 0).start();
  assert.deepEqual([progress.state, progress.done, progress.lostBlocks], ["done", 8, 1]);
  assert.deepEqual(blocksOnSpare(dev, 0), []);
  await assert.rejects(readBytes(dev, 3 * BS, BS), { code: "EMEDIUM" });
  for (const b of [0, 1, 2, 4, 5, 6, 7])
    assert.ok(same(await readBytes(dev, b * BS, BS), pattern(BS, b)), `block ${b}`);
  // Written again, the block is whole.
  await dev.write(3 * BS, pattern(BS, 33));
  assert.ok(same(await readBytes(dev, 3 * BS, BS), pattern(BS, 33)));
  await dev.close();
});

/** A spare whose slot writes fail once armed (its metadata area, past the slots, stays writable). */
class FailingSlotWrites extends KeepOpenDevice {
  armed = false;
  fromBytes = Infinity;
  protected override _write(offsetBytes: number, data: Uint8Array, options: WriteOptions): Promise<void> {
    if (this.armed && offsetBytes >= this.fromBytes && offsetBytes < this.sizeBytes - (512 << 10))
      return Promise.reject(new MediumError("spare1", "write", offsetBytes, data.length));
    return super._write(offsetBytes, data, options);
  }
}

test("a destination that fails its slot writes fails the batch, keeps the blocks, and a rerun goes elsewhere", async () => {
  const media = [1 << 20, 1 << 20, 2 << 20, 1 << 20].map((sizeBytes) => new MemoryDevice({ sizeBytes }));
  const failing = new FailingSlotWrites(media[2]!);
  const spares = [new KeepOpenDevice(media[1]!), failing, new KeepOpenDevice(media[3]!)];
  const main = new KeepOpenDevice(media[0]!);
  const opened = await createSet({ main, spares, blockSize: BS, name: "w", journalBytes: 8192 });
  const dev = openRemappedDevice({ main, spares, opened });
  for (let b = 0; b < 16; b++) await dev.write(b * BS, pattern(BS, b));
  for (let b = 0; b < 6; b++) await dev.remapBlock(b);
  failing.fromBytes = dev.setIdentity.spares[1]!.dataOffsetBytes;
  failing.armed = true;
  const job = new DrainJob(dev, 0);
  await assert.rejects(job.start(), { code: "EMEDIUM" });
  assert.equal(job.progress().state, "failed");
  assert.equal(blocksOnSpare(dev, 0).length, 6, "the blocks stay where they were");
  assert.equal(dev.spareUsage()[1]!.usedBlocks, 6, "the failed slots stay allocated (quarantined)");
  assert.ok(dev.isSpareAvoided(1));
  const again = await new DrainJob(dev, 0).start();
  assert.deepEqual([again.state, again.done], ["done", 6]);
  assert.deepEqual(
    Array.from({ length: 6 }, (_, b) => dev.spareIndexOf(b)),
    [2, 2, 2, 2, 2, 2],
  );
  for (let b = 0; b < 16; b++)
    assert.ok(same(await readBytes(dev, b * BS, BS), pattern(BS, b)), `block ${b}`);
  await dev.close();
});

test("spares opened O_DIRECT get the larger default batch, and a drain over them moves every block intact", async () => {
  const { dev: inMemory } = await servedSet();
  assert.equal(defaultBatchBytes(inMemory), DRAIN_BATCH_BYTES);
  await inMemory.close();
  const dir = await directTestDir();
  const paths = ["main", "s0", "s1"].map((n) => join(dir, `drain-${n}-${process.pid}.img`));
  try {
    const main = await FileDevice.create(paths[0]!, 4 << 20);
    const spares = [
      await FileDevice.create(paths[1]!, 4 << 20, { direct: true }),
      await FileDevice.create(paths[2]!, 4 << 20, { direct: true }),
    ];
    const opened = await createSet({ main, spares, blockSize: BS, name: "d", journalBytes: 8192 });
    const dev = openRemappedDevice({ main, spares, opened });
    assert.equal(defaultBatchBytes(dev), DRAIN_DIRECT_BATCH_BYTES);
    // 640 blocks (2.5 MiB): one batch, read and written as three 1 MiB pieces in parallel.
    const blocks = 640;
    for (let b = 0; b < blocks; b++) await dev.write(b * BS, pattern(BS, b));
    for (let b = 0; b < blocks; b += 64)
      await Promise.all(Array.from({ length: 64 }, (_, i) => dev.remapBlock(b + i)));
    const before = directIoTotals();
    const progress = await new DrainJob(dev, 0).start();
    assert.equal(progress.done, blocks);
    assert.deepEqual(blocksOnSpare(dev, 0), []);
    // The batch buffer is memory-aligned: the pieces are read and written in place (no bounce copy).
    assert.ok(directIoTotals().zeroCopyRequests - before.zeroCopyRequests >= 4, "data went zero-copy");
    for (let b = 0; b < blocks; b++)
      assert.ok(same(await readBytes(dev, b * BS, BS), pattern(BS, b)), `block ${b}`);
    await dev.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a run longer than one piece with an unreadable slot in its last piece loses only that block", async () => {
  const media = [4 << 20, 6 << 20, 6 << 20].map((sizeBytes) => new MemoryDevice({ sizeBytes }));
  const bad = new BadSector(media[1]!);
  const [main, spare1] = [new KeepOpenDevice(media[0]!), new KeepOpenDevice(media[2]!)];
  const opened = await createSet({ main, spares: [bad, spare1], blockSize: BS, name: "p" });
  const dev = openRemappedDevice({ main, spares: [bad, spare1], opened });
  const blocks = 768;
  for (let b = 0; b < blocks; b++) await dev.write(b * BS, pattern(BS, b));
  for (let b = 0; b < blocks; b += 64)
    await Promise.all(Array.from({ length: 64 }, (_, i) => dev.remapBlock(b + i)));
  // Block 600's slot is the 601st of spare 0: in the third 1 MiB piece of the 3 MiB run.
  bad.badBytes = dev.setIdentity.spares[0]!.dataOffsetBytes + 600 * BS + 100;
  bad.readLengths.length = 0;
  const progress = await new DrainJob(dev, 0, { batchBytes: 4 << 20 }).start();
  assert.deepEqual([progress.state, progress.done, progress.lostBlocks], ["done", blocks, 1]);
  assert.deepEqual(
    bad.readLengths.slice(0, 3),
    [1 << 20, 1 << 20, 1 << 20],
    "the run went out as three pieces",
  );
  assert.deepEqual(blocksOnSpare(dev, 0), []);
  await assert.rejects(readBytes(dev, 600 * BS, BS), { code: "EMEDIUM" });
  for (let b = 0; b < blocks; b++)
    if (b !== 600) assert.ok(same(await readBytes(dev, b * BS, BS), pattern(BS, b)), `block ${b}`);
  await dev.close();
});

/** A spare whose reads, once `holdAfter` reads were made, wait until release() (a slow old slot). */
class HeldReads extends KeepOpenDevice {
  reads = 0;
  holdAfter = Infinity;
  private gate: Promise<void> | undefined;
  release: () => void = () => undefined;
  /** Resolves when the first read is held. */
  readonly holding: Promise<void>;
  private held: () => void = () => undefined;
  constructor(lower: MemoryDevice) {
    super(lower);
    this.holding = new Promise<void>((resolve) => (this.held = resolve));
    this.gate = new Promise<void>((resolve) => (this.release = resolve));
  }
  protected override async _read(offsetBytes: number, target: Uint8Array): Promise<void> {
    if (++this.reads > this.holdAfter) {
      this.held();
      await this.gate;
    }
    return super._read(offsetBytes, target);
  }
}

// Without the early commit the read below would wait for the held batch: the timeout reports it.
test(
  "user I/O on a written batch gets it committed at once, without waiting for a full group",
  { timeout: 20_000 },
  async () => {
    const media = [2 << 20, 1 << 20, 1 << 20].map((sizeBytes) => new MemoryDevice({ sizeBytes }));
    const held = new HeldReads(media[1]!);
    const main = new KeepOpenDevice(media[0]!);
    const spares = [held, new KeepOpenDevice(media[2]!)];
    const opened = await createSet({ main, spares, blockSize: BS, name: "u", journalBytes: 8192 });
    const dev = openRemappedDevice({ main, spares, opened });
    for (let b = 0; b < 8; b++) await dev.write(b * BS, pattern(BS, b));
    for (let b = 0; b < 8; b++) await dev.remapBlock(b);
    // One block per batch, one copier: batch 0 is written, then the read of batch 1 is held, so the
    // group (4 batches) cannot fill; a user read of block 0 waits for batch 0 and must get it committed.
    held.holdAfter = held.reads + 1;
    const drain = new DrainJob(dev, 0, { batchBytes: BS, depth: 1 }).start();
    await held.holding;
    assert.ok(same(await readBytes(dev, 0, BS), pattern(BS, 0)), "block 0 read during the drain");
    assert.equal(dev.copySpares(0)[0], 1, "block 0 is committed on spare 1 while batch 1 is still held");
    assert.deepEqual(blocksOnSpare(dev, 0), [1, 2, 3, 4, 5, 6, 7]);
    held.release();
    assert.equal((await drain).done, 8);
    for (let b = 0; b < 8; b++)
      assert.ok(same(await readBytes(dev, b * BS, BS), pattern(BS, b)), `block ${b}`);
    await dev.close();
  },
);

/**
 * A spare that records the length of every read, runs `onRead` before the first of them and
 * `everyRead` before each.
 */
class ReadSpy extends KeepOpenDevice {
  readonly lengths: number[] = [];
  onRead: (() => void) | undefined;
  everyRead: (() => void) | undefined;
  protected override _read(offsetBytes: number, target: Uint8Array): Promise<void> {
    this.lengths.push(target.length);
    this.everyRead?.();
    const hook = this.onRead;
    this.onRead = undefined;
    hook?.();
    return super._read(offsetBytes, target);
  }
}

/** A set whose spares record their reads; blocks 0..blocks-1 remapped to spare 0, block 1000 on main. */
async function spiedSet(blocks: number) {
  const media = [4 << 20, 4 << 20, 4 << 20].map((sizeBytes) => new MemoryDevice({ sizeBytes }));
  const spies = [new ReadSpy(media[1]!), new ReadSpy(media[2]!)];
  const main = new KeepOpenDevice(media[0]!);
  const opened = await createSet({ main, spares: spies, blockSize: BS, name: "y", journalBytes: 65536 });
  const dev = openRemappedDevice({ main, spares: spies, opened });
  for (const b of [...Array(blocks).keys(), 1000]) await dev.write(b * BS, pattern(BS, b));
  for (let b = 0; b < blocks; b++) await dev.remapBlock(b);
  return { spies, dev };
}

test("a drain yields to user I/O: small batches while user I/O runs, large batches when idle", async () => {
  const blocks = 512;
  const { spies, dev } = await spiedSet(blocks);
  // The clock never moves: once user I/O is seen the drain stays in small steps to its end.
  const now = () => 0;
  const batchBytes = DRAIN_BUSY_BATCH_BYTES * 2;
  // A user read of a block past the remapped ones, started while the drain reads its first batch.
  let userRead: Promise<Uint8Array> | undefined;
  spies[0]!.onRead = () => (userRead = readBytes(dev, 1000 * BS, BS));
  spies[0]!.lengths.length = 0;
  assert.equal((await new DrainJob(dev, 0, { batchBytes, depth: 1, now }).start()).done, blocks);
  assert.ok(userRead && same(await userRead, pattern(BS, 1000)), "the user read is answered");
  const busy = spies[0]!.lengths;
  assert.equal(busy[0], batchBytes, "the first batch was claimed before any user I/O: full size");
  assert.equal(
    busy.length,
    1 + (blocks * BS - batchBytes) / DRAIN_BUSY_BATCH_BYTES,
    `reads ${busy.join(",")}`,
  );
  for (const length of busy.slice(1)) assert.equal(length, DRAIN_BUSY_BATCH_BYTES, "a batch after user I/O");
  // Back to spare 0 with nobody else on the set: every batch is full size.
  spies[1]!.lengths.length = 0;
  assert.equal((await new DrainJob(dev, 1, { batchBytes, depth: 1, now }).start()).done, blocks);
  assert.deepEqual(
    spies[1]!.lengths,
    Array((blocks * BS) / batchBytes).fill(batchBytes),
    "idle drain batches",
  );
  for (let b = 0; b < blocks; b++)
    assert.ok(same(await readBytes(dev, b * BS, BS), pattern(BS, b)), `block ${b}`);
  await dev.close();
});

test("a drain goes back to large batches once user I/O has stopped for the hold time", async () => {
  const blocks = 512;
  const { spies, dev } = await spiedSet(blocks);
  // Each spare read takes a third of the hold on the drain's clock: after one user read the small
  // steps last a few batches, then the rest of the drain is idle again.
  let nowMs = 0;
  const now = () => nowMs;
  const batchBytes = DRAIN_BUSY_BATCH_BYTES * 2;
  let userRead: Promise<Uint8Array> | undefined;
  spies[0]!.onRead = () => (userRead = readBytes(dev, 1000 * BS, BS));
  spies[0]!.everyRead = () => (nowMs += DRAIN_BUSY_HOLD_MS / 3);
  spies[0]!.lengths.length = 0;
  assert.equal((await new DrainJob(dev, 0, { batchBytes, depth: 1, now }).start()).done, blocks);
  assert.ok(userRead && same(await userRead, pattern(BS, 1000)), "the user read is answered");
  const lengths = spies[0]!.lengths;
  const small = lengths.filter((length) => length === DRAIN_BUSY_BATCH_BYTES).length;
  assert.equal(lengths[0], batchBytes, `the first batch is full size: reads ${lengths.join(",")}`);
  assert.ok(small >= 2 && small <= 4, `a few small batches within the hold: reads ${lengths.join(",")}`);
  assert.ok(
    lengths.lastIndexOf(batchBytes) > lengths.indexOf(DRAIN_BUSY_BATCH_BYTES),
    `full size again after the hold: reads ${lengths.join(",")}`,
  );
  assert.equal(
    lengths.reduce((sum, length) => sum + length, 0),
    blocks * BS,
    "every block read once",
  );
  for (let b = 0; b < blocks; b++)
    assert.ok(same(await readBytes(dev, b * BS, BS), pattern(BS, b)), `block ${b}`);
  await dev.close();
});

test("the background scanner's reads do not make a drain yield: its batches stay full size", async () => {
  const blocks = 256;
  const { spies, dev } = await spiedSet(blocks);
  const batchBytes = DRAIN_BUSY_BATCH_BYTES * 2;
  const before = dev.userIoCount;
  const into = new Uint8Array(BS);
  let scan: Promise<void> | undefined;
  spies[0]!.onRead = () => (scan = dev.scanRead(1000 * BS, into));
  spies[0]!.lengths.length = 0;
  assert.equal((await new DrainJob(dev, 0, { batchBytes, depth: 1, now: () => 0 }).start()).done, blocks);
  await scan;
  assert.ok(same(into, pattern(BS, 1000)), "the scan read got its block");
  assert.equal(dev.userIoCount, before, "a scan read is not user I/O");
  assert.deepEqual(spies[0]!.lengths, Array((blocks * BS) / batchBytes).fill(batchBytes), "full batches");
  await readBytes(dev, 1000 * BS, BS);
  assert.equal(dev.userIoCount, before + 1, "a user read is");
  await dev.close();
});

/** A spare that answers reads at once (like a file in memory), except a read that covers `badBytes`. */
class AnswersNow extends KeepOpenDevice {
  badBytes = -1;
  fastBytes = 0;
  slowReads = 0;
  protected override _readNow(offsetBytes: number, target: Uint8Array): boolean {
    if (this.badBytes >= offsetBytes && this.badBytes < offsetBytes + target.length) return false;
    if (!tryReadNow(this.lower, offsetBytes, target)) return false;
    this.fastBytes += target.length;
    return true;
  }
  protected override _read(offsetBytes: number, target: Uint8Array): Promise<void> {
    this.slowReads++;
    if (this.badBytes >= offsetBytes && this.badBytes < offsetBytes + target.length)
      return Promise.reject(new MediumError("spare0", "read", offsetBytes, target.length));
    return super._read(offsetBytes, target);
  }
}

test("a spare that answers at once is read on its fast path; a piece it refuses sends its run the slow way", async () => {
  const media = [1 << 20, 1 << 20, 1 << 20].map((sizeBytes) => new MemoryDevice({ sizeBytes }));
  const source = new AnswersNow(media[1]!);
  const [main, spare1] = [new KeepOpenDevice(media[0]!), new KeepOpenDevice(media[2]!)];
  const opened = await createSet({
    main,
    spares: [source, spare1],
    blockSize: BS,
    name: "n",
    journalBytes: 8192,
  });
  const dev = openRemappedDevice({ main, spares: [source, spare1], opened });
  for (let b = 0; b < 64; b++) await dev.write(b * BS, pattern(BS, b));
  for (let b = 0; b < 48; b++) await dev.remapBlock(b);
  // Runs of 16 slots (64 KiB, two fast-path pieces): the third run's second piece holds a bad sector.
  const data = dev.setIdentity.spares[0]!.dataOffsetBytes;
  source.badBytes = data + (2 * 16 + 10) * BS + 700;
  const slowBefore = source.slowReads;
  const progress = await new DrainJob(dev, 0, { batchBytes: 16 * BS }).start();
  assert.deepEqual([progress.state, progress.done, progress.lostBlocks], ["done", 48, 1]);
  // Two runs (32 blocks) and the first piece of the third came through the fast path.
  assert.equal(source.fastBytes, (32 + 8) * BS);
  // The third run: once whole (failed), then its 16 blocks one by one.
  assert.equal(source.slowReads - slowBefore, 1 + 16);
  await assert.rejects(readBytes(dev, 42 * BS, BS), { code: "EMEDIUM" });
  for (let b = 0; b < 64; b++)
    if (b !== 42) assert.ok(same(await readBytes(dev, b * BS, BS), pattern(BS, b)), `block ${b}`);
  await dev.close();
});
