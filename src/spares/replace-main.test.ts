// Replacing the main of a served set: copy order (sequential, remapped and pending skipped, failed
// areas retried block by block at the end), user writes during the copy land on the new device, the
// switch commits the new identity and serves from it, resume after a crash continues at the saved
// cursor, and a crash at every write and flush of a replacement leaves old or new main, never a mix.
import { after, test } from "node:test";
import { nextTurn } from "../core/loop-turns.js";
import { samplesAtTurns } from "../testing/loop-turns-probe.js";
import { rm, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import assert from "node:assert/strict";
import { LayerDevice, readBytes } from "../block/base-device.js";
import type { BlockDevice } from "../block/block-device.js";
import type { DeviceIdentity } from "../block/device-identity.js";
import { directIoTotals } from "../block/direct-io.js";
import { directTestDir } from "../block/direct-test-dir.js";
import { MemoryDevice } from "../block/memory-device.js";
import { openDevice } from "../block/open-device.js";
import { Prng } from "../block/prng.js";
import { ReplaceTee } from "../block/replace-tee.js";
import { createSet } from "../metadata/create-set.js";
import { openSet } from "../metadata/open-set.js";
import { SpareStore } from "../metadata/spare-store.js";
import { openRemappedDevice, type RemappedDevice } from "../remap/remapped-device.js";
import { FaultyDevice } from "../remap/testing/faulty-device.js";
import { KeepOpenDevice, pattern } from "../remap/testing/rig.js";
import { CrashDevice, CrashRecorder, type CrashPoint, crashImage } from "../testing/crash-device.js";
import { DIRECT_CONCURRENCY, ReplaceMainJob, type ReplaceCheckpoint } from "./replace-main.js";
import { planReplace } from "./replace-plan.js";
import { USER_IO_STEP_BYTES } from "./user-io-pacer.js";

const BS = 4096;
const MAIN = 1 << 20;
const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(b);
const OLD_ID: DeviceIdentity = { kind: "nbd", uri: "nbd://old", sizeBytes: MAIN };
const NEW_ID: DeviceIdentity = { kind: "nbd", uri: "nbd://new", sizeBytes: MAIN };

after(async () => rm(await directTestDir(), { recursive: true, force: true }));

/** Records the offset and length of every read that reaches the old main's medium. */
class ReadLog extends LayerDevice {
  readonly name = "read-log";
  readonly reads: [number, number][] = [];
  /** Called as each read starts. */
  onRead: ((offsetBytes: number, lengthBytes: number) => void) | undefined;
  /** Bulk copy reads (longer than a block) in flight now. */
  private inflight = 0;
  /** For each bulk copy read, the bulk copy reads in flight as it started (itself included). */
  readonly inflightAtStart: number[] = [];
  protected override async _read(offsetBytes: number, target: Uint8Array) {
    this.reads.push([offsetBytes, target.length]);
    this.onRead?.(offsetBytes, target.length);
    if (target.length <= BS) return this.lower.read(offsetBytes, target);
    this.inflightAtStart.push(++this.inflight);
    try {
      await this.lower.read(offsetBytes, target);
    } finally {
      this.inflight--;
    }
  }
  describe(): string {
    return this.lower.describe();
  }
}

async function served(spares: BlockDevice[] = [new MemoryDevice({ sizeBytes: 1 << 20 })], mainBytes = MAIN) {
  const mainMedia = new MemoryDevice({ sizeBytes: mainBytes, name: "old-media" });
  const log = new ReadLog(new KeepOpenDevice(mainMedia));
  const faulty = new FaultyDevice(log, "old");
  const tee = new ReplaceTee(faulty);
  const kept = spares.map((s) => new KeepOpenDevice(s));
  const opened = await createSet({
    main: tee,
    spares: kept,
    blockSize: BS,
    name: "r",
    journalBytes: 8192,
    mainIdentity: OLD_ID,
  });
  const dev = openRemappedDevice({ main: tee, spares: kept, opened });
  for (let b = 0; b < dev.blockCount; b++) await dev.write(b * BS, pattern(BS, b));
  await dev.flush();
  log.reads.length = 0;
  const commitSwitch = () => (opened.store as SpareStore).commitMainIdentity(NEW_ID);
  return { mainMedia, log, faulty, tee, dev, opened, commitSwitch };
}

/** A user read of the last block, started when `log` sees the first copy read; resolves with its bytes. */
function userReadAtFirstCopy(log: ReadLog, dev: RemappedDevice): () => Promise<Uint8Array> {
  let userRead: Promise<Uint8Array> | undefined;
  log.onRead = (_, n) => {
    if (n <= BS || userRead) return;
    userRead = readBytes(dev, (dev.blockCount - 1) * BS, BS);
  };
  return () => {
    assert.ok(userRead, "a user read started");
    return userRead;
  };
}

async function assertAll(dev: RemappedDevice, expected: (b: number) => number, skip: number[] = []) {
  for (let b = 0; b < dev.blockCount; b++) {
    if (skip.includes(b)) continue;
    assert.ok(same(await readBytes(dev, b * BS, BS), pattern(BS, expected(b))), `block ${b}`);
  }
}

test("the copy is sequential, skips remapped and pending blocks, retries failed areas last, then switches", async () => {
  const { log, faulty, tee, dev, opened, commitSwitch } = await served();
  await dev.remapBlock(10);
  await dev.remapBlock(11);
  await dev.markPending(20);
  faulty.breakBlock(100, BS, { reads: true });
  faulty.transientReads.set((200 * BS) / 512, 1); // fails the bulk read once, reads on retry
  const plan = planReplace(dev, 2 * MAIN);
  assert.deepEqual(
    { remapped: plan.remapped, pending: plan.pending, toCopy: plan.toCopy },
    { remapped: 2, pending: 1, toCopy: 256 - 3 },
  );
  const newMedia = new MemoryDevice({ sizeBytes: MAIN, name: "new-media" });
  await tee.arm(newMedia, BS);
  const job = new ReplaceMainJob(dev, tee, { commitSwitch, chunkBytes: 64 << 10, concurrency: 1 });
  const done = await job.start();
  assert.equal(done.state, "done");
  assert.equal(done.remappedSkipped, 2);
  assert.deepEqual(done.unreadableBlocks, [20, 100]);
  assert.equal(done.unremapped, 2);
  // Bulk reads: ascending, never over a remapped or pending block.
  const bulk = log.reads.filter(([, n]) => n > BS);
  for (let i = 1; i < bulk.length; i++) assert.ok(bulk[i]![0] > bulk[i - 1]![0], "ascending");
  for (const [off, n] of bulk)
    for (const b of [10, 11, 20]) assert.ok(b * BS >= off + n || b * BS < off, `bulk read over ${b}`);
  assert.deepEqual(bulk[0], [0, 10 * BS], "first extent stops at remapped block 10");
  // Single-block retries of the failed areas come after the last bulk read.
  const lastBulk = log.reads.lastIndexOf(bulk[bulk.length - 1]!);
  const firstRetry = log.reads.findIndex(([off, n]) => n === BS && off === 96 * BS);
  assert.ok(firstRetry > lastBulk, "retries after the bulk pass");
  // Switched: the new identity is committed, the device serves from the new medium, slots are free.
  assert.equal(tee.lower, newMedia);
  assert.deepEqual((opened.store as SpareStore).mainIdentity, NEW_ID);
  assert.equal(dev.remappedCount, 0);
  assert.equal(dev.spareUsage()[0]!.usedBlocks, 0);
  await assertAll(dev, (b) => b, [20, 100]);
  await assert.rejects(readBytes(dev, 100 * BS, BS), /pending/);
  assert.ok(same(await readBytes(newMedia, 10 * BS, BS), pattern(BS, 10)), "remapped block moved back");
  assert.ok(same(await readBytes(newMedia, 200 * BS, BS), pattern(BS, 200)), "retried block copied");
  await dev.close();
});

test("a replacement over devices that answer at once gives the event loop turns in every phase", async () => {
  // Memory devices answer every request at once: without turns of its own the job would run its copy,
  // retry and unremap passes to their end in microtasks while no socket or timer is served.
  const { faulty, tee, dev, commitSwitch } = await served();
  for (let b = 0; b < 32; b++) await dev.remapBlock(200 + b);
  faulty.transientReads.set((100 * BS) / 512, 1); // one retried block
  await tee.arm(new MemoryDevice({ sizeBytes: MAIN, name: "new-media" }), BS);
  let clock = 0;
  // The clock moves 1 ms (TURN_INTERVAL_MS) at every look; 16 KiB copy steps.
  const job = new ReplaceMainJob(dev, tee, { commitSwitch, chunkBytes: 16 << 10, now: () => (clock += 1) });
  const running = job.start();
  const phases = await samplesAtTurns(running, () => job.progress().phase);
  assert.equal((await running).state, "done");
  const seen = `phases at each turn: ${[...new Set(phases)].join(" ")} (${phases.length} turns)`;
  for (const phase of ["copying", "unremapping"] as const) assert.ok(phases.includes(phase), seen);
  // 56 copy steps of 16 KiB (the remapped blocks are skipped) and 32 unremaps: about one turn each.
  assert.ok(phases.length >= 48, seen);
  await assertAll(dev, (b) => b);
  await dev.close();
});

test("while user I/O runs, every copy step over devices that answer at once comes after an event-loop turn", async () => {
  // The clock stands still: the timed turns never fall due and the user read keeps the copy in small
  // steps to its end; only the turn before each step lets the event loop run between them.
  const mainBytes = 8 << 20;
  const { log, tee, dev, commitSwitch } = await served(undefined, mainBytes);
  await tee.arm(new MemoryDevice({ sizeBytes: mainBytes }), BS);
  const userRead = userReadAtFirstCopy(log, dev);
  const job = new ReplaceMainJob(dev, tee, { commitSwitch, chunkBytes: 1 << 20, now: () => 0 });
  const copyReads = () => log.reads.filter(([, n]) => n > BS).length;
  const running = job.start();
  const atTurns = await samplesAtTurns(running, copyReads);
  assert.equal((await running).state, "done");
  assert.ok(same(await userRead(), pattern(BS, dev.blockCount - 1)), "the user read is answered");
  const steps = copyReads();
  assert.ok(steps >= 12, `${steps} copy steps`);
  // After the first (full) requests, no turn sees more than one new step (two workers share them).
  const jumps = atTurns.slice(1).map((n, i) => n - atTurns[i]!);
  assert.ok(
    jumps.slice(2).every((d) => d <= 1),
    `copy steps at each turn: ${atTurns.join(",")}`,
  );
  assert.ok(atTurns.length >= steps - 2, `${atTurns.length} turns for ${steps} steps`);
  await assertAll(dev, (b) => b);
  await dev.close();
});

test("user writes during the copy land on the new device; a block rewritten whole is not left pending", async () => {
  const { faulty, tee, dev, commitSwitch } = await served();
  faulty.breakBlock(100, BS, { reads: true });
  await dev.remapBlock(50);
  const newMedia = new MemoryDevice({ sizeBytes: MAIN, name: "new-media" });
  await tee.arm(newMedia, BS);
  const job = new ReplaceMainJob(dev, tee, { commitSwitch, chunkBytes: 16 << 10, concurrency: 2 });
  const rng = new Prng(7);
  const expected = new Map<number, number>();
  let finished = false;
  let ops = 0;
  const workload = (async () => {
    await dev.write(100 * BS, pattern(BS, 9100));
    expected.set(100, 9100);
    while (!finished || ops < 200) {
      const b = rng.nextInt(dev.blockCount);
      if (b === 100) continue;
      if (rng.nextInt(2) === 0) {
        await dev.write(b * BS, pattern(BS, 10000 + ops));
        expected.set(b, 10000 + ops);
      } else
        assert.ok(same(await readBytes(dev, b * BS, BS), pattern(BS, expected.get(b) ?? b)), `block ${b}`);
      // Served user I/O arrives through the event loop; memory devices answer at once, so the
      // workload gives the loop turns (the copy gives its own between steps).
      if (++ops % 8 === 0) await nextTurn();
    }
  })();
  const [done] = await Promise.all([job.start().finally(() => (finished = true)), workload]);
  assert.equal(done.state, "done");
  assert.deepEqual(done.unreadableBlocks, []);
  await assertAll(dev, (b) => expected.get(b) ?? b);
  for (let b = 0; b < dev.blockCount; b++)
    assert.ok(same(await readBytes(newMedia, b * BS, BS), pattern(BS, expected.get(b) ?? b)), `new ${b}`);
  await dev.close();
});

test("a replacement yields to user I/O: small copy steps, one at a time, after a user read; full ones when idle", async () => {
  const mainBytes = 4 << 20;
  const chunkBytes = 1 << 20;
  const expected = (b: number) => b;
  // Idle: every request full size, two in flight.
  const idle = await served(undefined, mainBytes);
  await idle.tee.arm(new MemoryDevice({ sizeBytes: mainBytes }), BS);
  const idleJob = new ReplaceMainJob(idle.dev, idle.tee, {
    commitSwitch: idle.commitSwitch,
    chunkBytes,
    now: () => 0,
  });
  assert.equal((await idleJob.start()).state, "done");
  assert.deepEqual(
    idle.log.reads.map(([, n]) => n),
    Array(mainBytes / chunkBytes).fill(chunkBytes),
    "idle copy requests",
  );
  assert.equal(Math.max(...idle.log.inflightAtStart), 2, "two requests in flight when idle");
  await assertAll(idle.dev, expected);
  await idle.dev.close();

  // A user read starts while the first request reads; the clock stands still, so the copy stays in
  // small steps to its end.
  const { log, tee, dev, commitSwitch } = await served(undefined, mainBytes);
  await tee.arm(new MemoryDevice({ sizeBytes: mainBytes }), BS);
  const userRead = userReadAtFirstCopy(log, dev);
  const job = new ReplaceMainJob(dev, tee, { commitSwitch, chunkBytes, now: () => 0 });
  assert.equal((await job.start()).state, "done");
  assert.ok(same(await userRead(), pattern(BS, dev.blockCount - 1)), "the user read is answered");
  const copies = log.reads.filter(([, n]) => n > BS).map(([, n]) => n);
  // The first requests were claimed before the user read: full size; every later one is small.
  const full = copies.filter((n) => n === chunkBytes).length;
  assert.ok(full >= 1 && full <= 2, `copy requests ${copies.join(",")}`);
  assert.deepEqual(
    copies.slice(full),
    Array((mainBytes - full * chunkBytes) / USER_IO_STEP_BYTES).fill(USER_IO_STEP_BYTES),
    "copy requests after the user read",
  );
  assert.deepEqual(
    log.inflightAtStart.slice(full),
    Array(copies.length - full).fill(1),
    "one small step at a time",
  );
  await assertAll(dev, expected);
  await dev.close();
});

test("O_DIRECT mains: the copy reads and writes its buffers in place, DIRECT_CONCURRENCY requests in flight", async () => {
  const dir = await directTestDir();
  const paths = [join(dir, "replace-old.img"), join(dir, "replace-new.img")];
  for (const path of paths) {
    await writeFile(path, "");
    await truncate(path, MAIN);
  }
  const log = new ReadLog(await openDevice(`file+direct:${paths[0]}`));
  const tee = new ReplaceTee(log);
  const spare = new KeepOpenDevice(new MemoryDevice({ sizeBytes: 1 << 20 }));
  const opened = await createSet({
    main: tee,
    spares: [spare],
    blockSize: BS,
    name: "d",
    journalBytes: 8192,
  });
  const dev = openRemappedDevice({ main: tee, spares: [spare], opened });
  for (let b = 0; b < dev.blockCount; b++) await dev.write(b * BS, pattern(BS, b));
  await tee.arm(await openDevice(`file+direct:${paths[1]}`), BS);
  const before = directIoTotals();
  const job = new ReplaceMainJob(dev, tee, {
    commitSwitch: () => (opened.store as SpareStore).commitMainIdentity(NEW_ID),
    chunkBytes: 64 << 10,
  });
  assert.equal((await job.start()).state, "done");
  const after_ = directIoTotals();
  assert.equal(after_.bouncedRequests - before.bouncedRequests, 0, "no bounce copy");
  assert.equal(
    after_.zeroCopyRequests - before.zeroCopyRequests,
    2 * (MAIN / (64 << 10)),
    "read and write each",
  );
  assert.equal(Math.max(...log.inflightAtStart), DIRECT_CONCURRENCY);
  await assertAll(dev, (b) => b);
  await dev.close();
  for (const path of paths) await rm(path, { force: true });
});

test("pause holds the copy; after a crash the replacement resumes at the saved cursor", async () => {
  const spareMedia = new MemoryDevice({ sizeBytes: 1 << 20 });
  const first = await served([spareMedia]);
  const newMedia = new MemoryDevice({ sizeBytes: MAIN, name: "new-media" });
  await first.tee.arm(new KeepOpenDevice(newMedia), BS);
  let saved: ReplaceCheckpoint | undefined;
  let saves = 0;
  const job = new ReplaceMainJob(first.dev, first.tee, {
    commitSwitch: first.commitSwitch,
    chunkBytes: 64 << 10,
    concurrency: 1,
    saveEveryBytes: 128 << 10,
    save: async (c) => {
      if (++saves === 3) throw new Error("power cut");
      saved = c;
    },
  });
  assert.equal(job.pause().state, "paused");
  const running = job.start();
  await first.dev.idle();
  assert.equal(job.progress().copiedBytes, 0, "nothing copied while paused");
  job.resume();
  await assert.rejects(running, /power cut/);
  assert.equal(job.progress().state, "failed");
  assert.equal(saved?.phase, "copying");
  assert.equal(saved?.cursorBlock, 64);
  await first.dev.close();

  // Restart: the set still runs on the old main; the tee is armed again before any I/O, then resumed.
  const spares = [new KeepOpenDevice(spareMedia)];
  const log = new ReadLog(new KeepOpenDevice(first.mainMedia));
  const tee = new ReplaceTee(log);
  const opened = await openSet({ spares, main: tee });
  assert.deepEqual((opened.store as SpareStore).mainIdentity, OLD_ID);
  const dev = openRemappedDevice({ main: tee, spares, opened });
  await tee.arm(new KeepOpenDevice(newMedia), BS);
  await dev.write(5 * BS, pattern(BS, 555)); // below the cursor: reaches the new device through the tee
  const resumed = new ReplaceMainJob(dev, tee, {
    commitSwitch: () => (opened.store as SpareStore).commitMainIdentity(NEW_ID),
    resumeFrom: saved!,
    chunkBytes: 64 << 10,
  });
  assert.equal((await resumed.start()).state, "done");
  assert.equal(log.reads[0]![0], 64 * BS, "the copy starts again at the saved cursor");
  await assertAll(dev, (b) => (b === 5 ? 555 : b));
  await dev.close();
});

test("a crash mid-copy keeps the bad blocks a user rewrote: not pending, not copied, the user's data", async () => {
  const spareMedia = new MemoryDevice({ sizeBytes: 1 << 20 });
  const first = await served([spareMedia]);
  // Block 100 is pending (a write remaps it); 150's reads fail but it takes writes in place: its bulk
  // read fails, so it waits for the retry pass, and a crash must not forget that the user rewrote it.
  const broken = (faulty: FaultyDevice) => {
    faulty.breakBlock(100, BS, { reads: true });
    faulty.breakBlock(150, BS, { reads: true });
    faulty.breakBlock(160, BS, { reads: true });
  };
  broken(first.faulty);
  await first.dev.markPending(100);
  const newMedia = new MemoryDevice({ sizeBytes: MAIN, name: "new-media" });
  await first.tee.arm(new KeepOpenDevice(newMedia), BS);
  let saved: ReplaceCheckpoint | undefined;
  let pastBlock150!: () => void;
  const past = new Promise<void>((resolve) => (pastBlock150 = resolve));
  const job = new ReplaceMainJob(first.dev, first.tee, {
    commitSwitch: first.commitSwitch,
    chunkBytes: 64 << 10,
    concurrency: 1,
    saveEveryBytes: 64 << 10,
    save: async (c) => {
      saved = c;
      if (c.retryBlocks.includes(150) && job.pause().state === "paused") pastBlock150();
    },
  });
  // 160 is rewritten before the bulk pass finds it unreadable: saved as rewritten when it does.
  await first.dev.write(160 * BS, pattern(BS, 9160));
  void job.start();
  await past;
  assert.deepEqual(saved!.skippedPending, [100]);
  assert.deepEqual(saved!.rewrittenBlocks, [160]);
  // The user rewrites both: 100 moves to a spare slot; the write of 150 lands on both mains and
  // completes only once the resume point lists it.
  await first.dev.write(100 * BS, pattern(BS, 9100));
  assert.ok(first.dev.spareIndexOf(100) >= 0);
  await first.dev.write(150 * BS, pattern(BS, 9150));
  assert.deepEqual(saved!.rewrittenBlocks, [150, 160]);
  assert.ok(same(await readBytes(newMedia, 150 * BS, BS), pattern(BS, 9150)));
  // Crash (the paused job is abandoned); restart on the old main, re-arm, resume from the saved point.
  await first.dev.close();
  const spares = [new KeepOpenDevice(spareMedia)];
  const log = new ReadLog(new KeepOpenDevice(first.mainMedia));
  const faulty = new FaultyDevice(log, "old");
  broken(faulty);
  const tee = new ReplaceTee(faulty);
  const opened = await openSet({ spares, main: tee });
  const dev = openRemappedDevice({ main: tee, spares, opened });
  assert.equal(dev.isRemappedOrPending(150), false);
  const newMain = new KeepOpenDevice(newMedia);
  await tee.arm(newMain, BS);
  const resumed = new ReplaceMainJob(dev, tee, {
    commitSwitch: () => (opened.store as SpareStore).commitMainIdentity(NEW_ID),
    resumeFrom: saved!,
    chunkBytes: 64 << 10,
  });
  const done = await resumed.start();
  assert.equal(done.state, "done");
  assert.deepEqual(done.unreadableBlocks, [], "nothing left pending: the user's data is on the new main");
  for (const [off] of log.reads)
    assert.ok(![100, 150, 160].some((b) => off === b * BS), `old main read at ${off}`);
  assert.equal(tee.lower, newMain);
  assert.equal(done.unremapped, 1, "block 100 moved back from its slot");
  await assertAll(dev, (b) => ({ 100: 9100, 150: 9150, 160: 9160 })[b] ?? b);
  await dev.close();
});

test("a crash at every write and flush of a replacement leaves the old or the new main, data exact", async () => {
  const recorder = new CrashRecorder();
  const SPARE = 512 << 10;
  const spares = [new CrashDevice({ sizeBytes: SPARE, name: "spare0", recorder })];
  const newDev = new CrashDevice({ sizeBytes: MAIN, name: "new", recorder });
  const oldMedia = new MemoryDevice({ sizeBytes: MAIN });
  const tee = new ReplaceTee(new KeepOpenDevice(oldMedia));
  const kept = spares.map((s) => new KeepOpenDevice(s));
  const opened = await createSet({
    main: tee,
    spares: kept,
    blockSize: BS,
    name: "c",
    journalBytes: 8192,
    mainIdentity: OLD_ID,
  });
  const dev = openRemappedDevice({ main: tee, spares: kept, opened });
  for (let b = 0; b < dev.blockCount; b++) await dev.write(b * BS, pattern(BS, b));
  for (const b of [3, 4, 130]) await dev.remapBlock(b);
  await dev.flush();
  // Only the slots hold the remapped blocks' data now.
  for (const b of [3, 4, 130]) await oldMedia.write(b * BS, new Uint8Array(BS));
  await tee.arm(new KeepOpenDevice(newDev), BS);
  const points: CrashPoint[][] = [];
  recorder.hook = () => {
    points.push([...spares, newDev].map((d) => d.capture()));
  };
  const job = new ReplaceMainJob(dev, tee, {
    commitSwitch: () => (opened.store as SpareStore).commitMainIdentity(NEW_ID),
    chunkBytes: 128 << 10,
  });
  await job.start();
  recorder.hook = undefined;
  points.push([...spares, newDev].map((d) => d.capture()));
  const rng = new Prng(13);
  const seen = { old: 0, new: 0 };
  let states = 0;
  for (const point of points) {
    for (let v = 0; v < 3; v++) {
      states++;
      const images = point.map((p) =>
        v === 0 ? p.durable.slice() : crashImage(p, rng, { tornProbability: 0.4 }),
      );
      const spare = new CrashDevice({ sizeBytes: SPARE, image: images[0]!, name: "spare0" });
      const probe = await openSet({ spares: [spare], repair: false, inspect: true });
      const id = probe.mainIdentity;
      const onNew = id?.kind === "nbd" && id.uri === "nbd://new";
      await probe.store.close();
      seen[onNew ? "new" : "old"]++;
      const main = onNew
        ? new CrashDevice({ sizeBytes: MAIN, image: images[1]!, name: "new" })
        : new KeepOpenDevice(oldMedia);
      const reopened = await openSet({ spares: [spare], main });
      const back = openRemappedDevice({ main, spares: [spare], opened: reopened });
      for (let b = 0; b < back.blockCount; b++)
        assert.ok(
          same(await readBytes(back, b * BS, BS), pattern(BS, b)),
          `block ${b} (state ${states}, ${onNew ? "new" : "old"} main)`,
        );
      await reopened.store.close();
    }
  }
  console.log(
    `# replace-main: ${points.length} crash points, ${states} crash states (${seen.old} on the old main, ${seen.new} on the new)`,
  );
  assert.ok(seen.old > 0 && seen.new > 0);
  await dev.close();
});
