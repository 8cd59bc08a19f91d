// Jobs on a mirrored set over the real metadata store: a drain moves the copies a spare holds and
// keeps two copies on two spares; a rebuild re-creates copies lost with a missing spare; both survive
// a checkpoint and a reopen through openSet; an unmirrored set refuses a rebuild; a rebuild over
// spares in memory gives the event loop turns.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readBytes } from "../block/base-device.js";
import type { BlockDevice } from "../block/block-device.js";
import { MemoryDevice } from "../block/memory-device.js";
import { MissingDevice } from "../block/missing-device.js";
import { createSet } from "../metadata/create-set.js";
import { openSet } from "../metadata/open-set.js";
import { openRemappedDevice, type RemappedDevice } from "../remap/remapped-device.js";
import { KeepOpenDevice, pattern } from "../remap/testing/rig.js";
import { samplesAtTurns } from "../testing/loop-turns-probe.js";
import { DrainJob } from "./drain.js";
import { SpareOperationError } from "./errors.js";
import { MirrorRebuildJob } from "./mirror-rebuild.js";

const BS = 4096;
const REMAPPED = Array.from({ length: 12 }, (_, i) => 40 + i);

async function mirroredSet(mirrorCopies: 1 | 2 = 2) {
  const media = [1 << 20, 1 << 20, 1 << 20, 1 << 20].map((sizeBytes) => new MemoryDevice({ sizeBytes }));
  const [main, ...spares] = media.map((m) => new KeepOpenDevice(m));
  const opened = await createSet({
    main: main!,
    spares,
    blockSize: BS,
    name: "m",
    journalBytes: 8192,
    mirrorCopies,
  });
  const dev = openRemappedDevice({ main: main!, spares, opened });
  for (const b of REMAPPED) {
    await dev.write(b * BS, pattern(BS, b));
    await dev.remapBlock(b);
  }
  return { media, dev };
}

/** Open the set again over `media` (a spare index in `missing` is absent). */
async function reopen(media: MemoryDevice[], missing: number[] = []): Promise<RemappedDevice> {
  const main = new KeepOpenDevice(media[0]!);
  const present = media.slice(1).map((m, i) => (missing.includes(i) ? undefined : new KeepOpenDevice(m)));
  const opened = await openSet({ spares: present.filter((d): d is KeepOpenDevice => d !== undefined), main });
  const spares: BlockDevice[] = present.map(
    (d, i) => d ?? new MissingDevice({ sizeBytes: media[i + 1]!.sizeBytes, name: `spare${i}-missing` }),
  );
  return openRemappedDevice({ main, spares, opened });
}

function copySpares(dev: RemappedDevice): number[][] {
  return REMAPPED.map((b) => dev.copySpares(b).sort());
}

test("a drain of a mirrored spare keeps two copies on two other spares; the table survives a reopen", async () => {
  const { media, dev } = await mirroredSet();
  assert.ok(copySpares(dev).every((s) => s.length === 2 && s[0] !== s[1]));
  assert.ok(dev.blocksOnSpare(0).length === REMAPPED.length, "fill-first: every block has a copy on spare 0");
  const progress = await new DrainJob(dev, 0).start();
  assert.equal(progress.state, "done");
  assert.equal(progress.done, REMAPPED.length);
  assert.deepEqual(dev.blocksOnSpare(0), []);
  for (const s of copySpares(dev)) assert.deepEqual(s, [1, 2]);
  await dev.close();
  const again = await reopen(media);
  for (const s of copySpares(again)) assert.deepEqual(s, [1, 2]);
  for (const b of REMAPPED) assert.deepEqual(await readBytes(again, b * BS, BS), Buffer.from(pattern(BS, b)));
  assert.equal(again.status().state, "healthy", again.status().reason);
  await again.close();
});

test("a rebuild after a spare went missing restores two copies; progress counts them; reopen keeps them", async () => {
  const { media, dev } = await mirroredSet();
  await dev.close();
  const degraded = await reopen(media, [1]);
  const before = degraded.status();
  assert.equal(before.state, "degraded");
  assert.equal(before.mirror?.singleCopyBlocks, REMAPPED.length);
  for (const b of REMAPPED)
    assert.deepEqual(await readBytes(degraded, b * BS, BS), Buffer.from(pattern(BS, b)));
  const job = new MirrorRebuildJob(degraded);
  const done = await job.start();
  assert.deepEqual(
    [done.state, done.done, done.total, done.rebuilt, done.singleCopy, done.unreadable],
    ["done", REMAPPED.length, REMAPPED.length, REMAPPED.length, 0, 0],
  );
  assert.equal(degraded.status().mirror?.singleCopyBlocks, 0);
  for (const s of copySpares(degraded)) assert.deepEqual(s, [0, 2]);
  await degraded.close();
  // Spare 0 gone as well: spare 2 alone holds every block.
  const last = await reopen(media, [0, 1]);
  for (const b of REMAPPED) assert.deepEqual(await readBytes(last, b * BS, BS), Buffer.from(pattern(BS, b)));
  await last.close();
});

test("a rebuild over spares that answer at once gives the event loop turns between blocks", async () => {
  const { media, dev } = await mirroredSet();
  await dev.close();
  const degraded = await reopen(media, [1]);
  let clock = 0;
  // The clock moves 1 ms (TURN_INTERVAL_MS) at every look: a turn before every block.
  const job = new MirrorRebuildJob(degraded, { now: () => (clock += 1) });
  const running = job.start();
  const doneAtTurn = await samplesAtTurns(running, () => job.progress().done);
  assert.equal((await running).rebuilt, REMAPPED.length);
  const turns = `blocks rebuilt at each turn: ${doneAtTurn.join(" ")}`;
  assert.ok(doneAtTurn.length >= REMAPPED.length / 2, turns);
  assert.ok(
    doneAtTurn.some((d) => d > 0 && d < REMAPPED.length),
    turns,
  );
  await degraded.close();
});

test("an unmirrored set refuses a rebuild by name", async () => {
  const { dev } = await mirroredSet(1);
  assert.throws(() => new MirrorRebuildJob(dev), SpareOperationError);
  assert.throws(() => new MirrorRebuildJob(dev), /is not mirrored \(create it with --mirror 2/);
  assert.ok(copySpares(dev).every((s) => s.length === 1));
  await dev.close();
});
