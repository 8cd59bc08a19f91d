// A drain between spares that are files copies its batches in worker threads (copy-offload.ts): the
// data arrives exact on tmpfs and on disk and survives a reopen; a copy whose read fails is redone on
// the event loop; a copy whose write fails fails the batch and keeps the blocks where they were;
// spares that do not lend their files (O_DIRECT, memory) keep the event loop's copy. New slots that
// run from the end of one spare into the next are written to each spare separately.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { readBytes } from "../block/base-device.js";
import type { BlockDevice } from "../block/block-device.js";
import { CopyFailure, CopyOffload } from "../block/copy-offload.js";
import { MediumError } from "../block/errors.js";
import { FileDevice } from "../block/file-device.js";
import { IoWorker } from "../block/io-worker.js";
import { MemoryDevice } from "../block/memory-device.js";
import { createSet } from "../metadata/create-set.js";
import { openSet } from "../metadata/open-set.js";
import { openRemappedDevice, type RemappedDevice } from "../remap/remapped-device.js";
import { KeepOpenDevice, pattern } from "../remap/testing/rig.js";
import { DRAIN_DEPTH, DRAIN_OFFLOAD_DEPTH, DrainJob, blocksOnSpare, defaultDrainDepth } from "./drain.js";

const BS = 4096;
const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(b);

/** What a copy no worker ran rejects with: a copy submitted to a stopped I/O worker. */
async function unrunCopy(): Promise<void> {
  const stopped = new IoWorker({ slots: 1, slotBytes: 4096 });
  await stopped.close();
  return stopped.copy(0, 0, 1, 0, 4096);
}

/** A CopyOffload that counts what it copied and can fail chosen calls (by call number, from 1). */
class CountingCopies extends CopyOffload {
  calls = 0;
  bytes = 0;
  failRead = new Set<number>();
  failWrite = new Set<number>();
  /** Calls that fail as a copy no worker ran (a stopped worker), blaming neither side. */
  failUnrun = new Set<number>();
  constructor() {
    super(2);
  }
  override copy(
    from: BlockDevice,
    fromOffset: number,
    to: BlockDevice,
    toOffset: number,
    lengthBytes: number,
  ): Promise<void> | undefined {
    const call = ++this.calls;
    const copy = super.copy(from, fromOffset, to, toOffset, lengthBytes);
    if (!copy) return copy;
    this.bytes += lengthBytes;
    const failure = (side: "read" | "write", device: BlockDevice, at: number) =>
      copy.then(() => {
        throw new CopyFailure(
          side,
          new MediumError(device.describe(), side, at, lengthBytes, `${side} failed`),
        );
      });
    if (this.failRead.has(call)) return failure("read", from, fromOffset);
    if (this.failWrite.has(call)) return failure("write", to, toOffset);
    if (this.failUnrun.has(call)) return copy.then(() => unrunCopy());
    return copy;
  }
}

/** A set on files in `dir`: main of `blocks` blocks, every block written with its pattern. */
async function fileSet(dir: string, spareBytes: number[], blocks = 512) {
  const paths = ["main", ...spareBytes.map((_, i) => `s${i}`)].map((n) => join(dir, `${n}.img`));
  const main = await FileDevice.create(paths[0]!, blocks * BS);
  const spares = await Promise.all(spareBytes.map((size, i) => FileDevice.create(paths[i + 1]!, size)));
  const opened = await createSet({ main, spares, blockSize: BS, name: "c", journalBytes: 64 * 1024 });
  const dev = openRemappedDevice({ main, spares, opened });
  for (let b = 0; b < blocks; b++) await dev.write(b * BS, pattern(BS, b));
  return { dev, paths };
}

/** Remap `count` blocks from `first` (64 at a time, sharing commits). */
async function remapRange(dev: RemappedDevice, first: number, count: number): Promise<void> {
  for (let b = first; b < first + count; b += 64)
    await Promise.all(
      Array.from({ length: Math.min(64, first + count - b) }, (_, i) => dev.remapBlock(b + i)),
    );
}

async function assertPatterns(dev: RemappedDevice, blocks: number): Promise<void> {
  for (let b = 0; b < blocks; b++)
    assert.ok(same(await readBytes(dev, b * BS, BS), pattern(BS, b)), `block ${b} holds its data`);
}

for (const [where, root] of [
  ["tmpfs", "/dev/shm"],
  ["disk", tmpdir()],
] as const) {
  describe(`a drain between spares on ${where} files`, () => {
    let dir = "";
    const copies = new CountingCopies();
    before(async () => {
      dir = await mkdtemp(join(root, "dmremap-drain-copies-"));
    });
    after(async () => {
      await copies.close();
      await rm(dir, { recursive: true, force: true });
    });

    test("copies its batches in worker threads, exact, and the moves survive a reopen", async () => {
      const { dev, paths } = await fileSet(dir, [2 << 20, 2 << 20]);
      await remapRange(dev, 0, 300);
      assert.equal(blocksOnSpare(dev, 0).length, 300);
      assert.equal(defaultDrainDepth(dev, 0), DRAIN_OFFLOAD_DEPTH);
      const spare1 = dev.spareDevices[1]!;
      const writesBefore = spare1.status().bytesWritten;
      // Batches of 64 blocks: five batches, four in flight.
      const progress = await new DrainJob(dev, 0, { batchBytes: 64 * BS, copies }).start();
      assert.equal(progress.state, "done");
      assert.equal(progress.done, 300);
      assert.deepEqual(blocksOnSpare(dev, 0), []);
      assert.equal(blocksOnSpare(dev, 1).length, 300);
      assert.equal(copies.bytes, 300 * BS, "every block went through a worker copy");
      // The destination counts the workers' writes as its own (and its metadata copy's journal writes).
      const written = spare1.status().bytesWritten - writesBefore;
      assert.ok(written >= 300 * BS && written < 300 * BS + 64 * 1024, `${written} bytes written`);
      assert.equal(dev.spareUsage()[0]!.usedBlocks, 0, "old slots freed");
      await assertPatterns(dev, 512);
      await dev.close();
      const [main, ...spares] = await Promise.all(paths.map((p) => FileDevice.open(p)));
      const reopened = openRemappedDevice({
        main: main!,
        spares,
        opened: await openSet({ main: main!, spares }),
      });
      assert.equal(blocksOnSpare(reopened, 1).length, 300);
      await assertPatterns(reopened, 512);
      await reopened.close();
    });
  });
}

describe("a drain's worker copies when a side fails", () => {
  let dir = "";
  before(async () => {
    dir = await mkdtemp(join("/dev/shm", "dmremap-drain-copy-fail-"));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test("a copy whose read fails is redone on the event loop: every block moves exact", async () => {
    const copies = new CountingCopies();
    try {
      const { dev } = await fileSet(await mkdtemp(join(dir, "r-")), [2 << 20, 2 << 20]);
      await remapRange(dev, 0, 256);
      copies.failRead.add(2);
      const spare1 = dev.spareDevices[1]!;
      const writesBefore = spare1.status().writes;
      const progress = await new DrainJob(dev, 0, { batchBytes: 64 * BS, depth: 1, copies }).start();
      assert.equal(progress.state, "done");
      assert.equal(progress.done, 256);
      assert.equal(progress.lostBlocks, 0);
      assert.deepEqual(blocksOnSpare(dev, 0), []);
      // Four batches: three copied by workers (the failed one's copy counted too) and one rewritten
      // from the event loop, so the destination saw more writes than the four copies.
      assert.equal(copies.calls, 4);
      assert.ok(spare1.status().writes - writesBefore > 4);
      await assertPatterns(dev, 512);
      await dev.close();
    } finally {
      await copies.close();
    }
  });

  test("a copy whose write fails fails the drain: the blocks stay on the spare, exact, and a rerun moves them", async () => {
    const copies = new CountingCopies();
    try {
      const { dev } = await fileSet(await mkdtemp(join(dir, "w-")), [2 << 20, 2 << 20, 2 << 20]);
      await remapRange(dev, 0, 128);
      copies.failWrite.add(1);
      const job = new DrainJob(dev, 0, { batchBytes: 64 * BS, depth: 1, copies });
      await assert.rejects(job.start(), { code: "EMEDIUM", message: /write failed/ });
      assert.equal(job.progress().state, "failed");
      assert.equal(blocksOnSpare(dev, 0).length, 128, "no block left its slot");
      assert.equal(dev.status().errorCounts.spare, 1);
      assert.equal(dev.spareUsage()[1]!.quarantinedBlocks, 64, "the failed run's slots are quarantined");
      await assertPatterns(dev, 512);
      // The spare whose write failed is avoided: the rerun moves everything to the third spare.
      const rerun = await new DrainJob(dev, 0, { batchBytes: 64 * BS, copies }).start();
      assert.equal(rerun.state, "done");
      assert.deepEqual(blocksOnSpare(dev, 0), []);
      assert.equal(blocksOnSpare(dev, 2).length, 128);
      await assertPatterns(dev, 512);
      await dev.close();
    } finally {
      await copies.close();
    }
  });
});

test("a copy no worker ran fails the drain without blaming a spare: nothing quarantined, a rerun completes", async () => {
  const dir = await mkdtemp(join("/dev/shm", "dmremap-drain-copy-unrun-"));
  const copies = new CountingCopies();
  try {
    const { dev } = await fileSet(dir, [2 << 20, 2 << 20]);
    await remapRange(dev, 0, 128);
    copies.failUnrun.add(1);
    const job = new DrainJob(dev, 0, { batchBytes: 64 * BS, depth: 1, copies });
    await assert.rejects(job.start(), { code: "EIO" });
    assert.equal(blocksOnSpare(dev, 0).length, 128, "no block left its slot");
    assert.equal(dev.status().errorCounts.spare, 0);
    assert.deepEqual(
      dev.spareUsage().map((u) => u.quarantinedBlocks),
      [0, 0],
    );
    assert.equal(dev.spareUsage()[1]!.usedBlocks, 0, "the new slots were released");
    const rerun = await new DrainJob(dev, 0, { batchBytes: 64 * BS, copies }).start();
    assert.equal(rerun.state, "done");
    assert.equal(blocksOnSpare(dev, 1).length, 128, "the spare was not avoided");
    await assertPatterns(dev, 512);
    await dev.close();
  } finally {
    await copies.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test("spares in memory keep the event loop's copy (and its default depth)", async () => {
  const media = [2 << 20, 1 << 20, 1 << 20].map((sizeBytes) => new MemoryDevice({ sizeBytes }));
  const [main, ...spares] = media.map((m) => new KeepOpenDevice(m));
  const opened = await createSet({ main: main!, spares, blockSize: BS, name: "m", journalBytes: 8192 });
  const dev = openRemappedDevice({ main: main!, spares, opened });
  for (let b = 0; b < 64; b++) await dev.write(b * BS, pattern(BS, b));
  await remapRange(dev, 0, 64);
  assert.equal(defaultDrainDepth(dev, 0), DRAIN_DEPTH);
  const copies = new CountingCopies();
  try {
    const progress = await new DrainJob(dev, 0, { copies }).start();
    assert.equal(progress.done, 64);
    assert.equal(copies.bytes, 0, "no worker copy");
    for (let b = 0; b < 64; b++) assert.ok(same(await readBytes(dev, b * BS, BS), pattern(BS, b)));
  } finally {
    await copies.close();
  }
});

describe("new slots that run from one spare's last slot into the next spare's first", () => {
  for (const kind of ["memory (event-loop copy)", "files (worker copy)"] as const) {
    test(`are written to each spare at its own offsets: ${kind}`, async () => {
      const dir = await mkdtemp(join("/dev/shm", "dmremap-drain-boundary-"));
      const copies = new CountingCopies();
      try {
        let dev: RemappedDevice;
        const spareBytes = [1 << 20, 1 << 20, 1 << 20];
        if (kind.startsWith("memory")) {
          const media = [2 << 20, ...spareBytes].map((sizeBytes) => new MemoryDevice({ sizeBytes }));
          const [main, ...spares] = media.map((m) => new KeepOpenDevice(m));
          const opened = await createSet({
            main: main!,
            spares,
            blockSize: BS,
            name: "b",
            journalBytes: 8192,
          });
          dev = openRemappedDevice({ main: main!, spares, opened });
          for (let b = 0; b < 512; b++) await dev.write(b * BS, pattern(BS, b));
        } else dev = (await fileSet(dir, spareBytes)).dev;
        const [s0, s1] = dev.setIdentity.spares;
        // Fill-first: spare 0 fills, then spare 1 up to 3 slots short of its end.
        await remapRange(dev, 0, s0!.slotCount + s1!.slotCount - 3);
        assert.equal(dev.spareUsage()[1]!.usedBlocks, s1!.slotCount - 3);
        // Drain spare 0's first 8 blocks: 3 slots at spare 1's end, 5 at spare 2's start (contiguous
        // slot numbers, two devices).
        const eight = blocksOnSpare(dev, 0).slice(0, 8);
        const written = await dev.moveSpareBatch(eight, 0, 64, undefined, undefined, copies);
        assert.deepEqual(
          written.newSlots,
          Array.from({ length: 8 }, (_, i) => s1!.firstSlot + s1!.slotCount - 3 + i),
        );
        assert.deepEqual([...written.touched].sort(), [1, 2]);
        await dev.commitSpareBatches([written]);
        assert.equal(copies.bytes, kind.startsWith("files") ? 8 * BS : 0);
        for (const b of eight)
          assert.ok(same(await readBytes(dev, b * BS, BS), pattern(BS, b)), `block ${b}`);
        await assertPatterns(dev, 512);
        await dev.close();
      } finally {
        await copies.close();
        await rm(dir, { recursive: true, force: true });
      }
    });
  }
});
