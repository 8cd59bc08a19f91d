// Mirrored sets (mirror = 2): two copies on two spares, reads from a healthy copy with repair, writes
// to both, a spare failing or missing, rebuild, drain of a spare holding copies, and unmirrored sets.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readBytes } from "../block/base-device.js";
import { MemoryDevice } from "../block/memory-device.js";
import { MissingDevice } from "../block/missing-device.js";
import type { BlockDevice } from "../block/block-device.js";
import { openRemappedDevice, type RemappedDevice } from "./remapped-device.js";
import { FaultyDevice } from "./testing/faulty-device.js";
import { createMemorySet, reopenMemorySet, type MemoryDurable } from "./testing/memory-store.js";
import { KeepOpenDevice, pattern } from "./testing/rig.js";
import { VirtualClock } from "./testing/virtual-clock.js";
import type { MirrorAction } from "./remap-events.js";

const BS = 4096;
const BLOCKS = 32;

interface MirrorRig {
  dev: RemappedDevice;
  main: FaultyDevice;
  spares: FaultyDevice[];
  media: MemoryDevice[];
  durable: MemoryDurable;
  events: { action: MirrorAction; block: number; slot: number }[];
  reopen(spares?: BlockDevice[]): RemappedDevice;
}

function mirrorRig(spareSlots: readonly number[] = [8, 8, 8], mirrorCopies: 1 | 2 = 2): MirrorRig {
  const { durable, opened } = createMemorySet({
    blockSize: BS,
    mainSizeBytes: BLOCKS * BS,
    spareSlots,
    ...(mirrorCopies === 2 ? { mirrorCopies } : {}),
  });
  const main = new FaultyDevice(new KeepOpenDevice(new MemoryDevice({ sizeBytes: BLOCKS * BS })), "main");
  const media = durable.identity.spares.map((s) => new MemoryDevice({ sizeBytes: s.sizeBytes }));
  const spares = media.map((m, i) => new FaultyDevice(new KeepOpenDevice(m), `spare${i}`));
  const events: MirrorRig["events"] = [];
  const onMirror = (e: { action: MirrorAction; block: number; slot: number }) =>
    events.push({ action: e.action, block: e.block, slot: e.slot });
  const open = (o: typeof opened, s: BlockDevice[]) => {
    const mainLayer = rig ? (rig.main = new FaultyDevice(main.lower, "main")) : main;
    return openRemappedDevice({
      main: mainLayer,
      spares: s,
      opened: o,
      clock: new VirtualClock(),
      events: { onMirror },
    });
  };
  // eslint-disable-next-line prefer-const -- open() reads it before it is assigned on the first call
  let rig: MirrorRig | undefined;
  rig = {
    dev: open(opened, spares),
    main,
    spares,
    media,
    durable,
    events,
    reopen: (s) => {
      rig!.spares = media.map((m, i) => new FaultyDevice(new KeepOpenDevice(m), `spare${i}`));
      return (rig!.dev = open(reopenMemorySet(durable), s ?? rig!.spares));
    },
  };
  return rig;
}

/** Slots of block's two copies, as the device holds them. */
function copies(dev: RemappedDevice, block: number): [number, number] {
  return [dev.core.table.get(block), dev.core.mirrors.get(block)];
}

/** Remap `block` holding `data` by a failed main write. */
async function remapWith(rig: MirrorRig, block: number, data: Uint8Array): Promise<void> {
  rig.main.breakBlock(block, BS, { writes: true, reads: true });
  await rig.dev.write(block * BS, data);
}

test("a mirrored remap writes two flushed copies on two different spares and journals both", async () => {
  const rig = mirrorRig();
  const data = pattern(BS, 1);
  await remapWith(rig, 3, data);
  const [slot, mirror] = copies(rig.dev, 3);
  assert.ok(slot >= 0 && mirror >= 0);
  const pool = rig.dev.core.pool;
  assert.notEqual(pool.spareIndexOf(slot), pool.spareIndexOf(mirror), "copies on two spares");
  for (const s of [slot, mirror]) {
    const media = rig.media[pool.spareIndexOf(s)]!;
    assert.deepEqual(await readBytes(media, pool.offsetOf(s), BS), Buffer.from(data));
  }
  const journal = rig.durable.journal;
  assert.deepEqual(
    journal.map((r) => r.type),
    ["remap", "mirror"],
    "remap and its second copy in one batch",
  );
  const status = rig.dev.status();
  assert.equal(status.mirror?.mirroredBlocks, 1);
  assert.equal(status.mirror?.singleCopyBlocks, 0);
  assert.equal(status.state, "healthy");
});

test("a write to a mirrored block goes to both copies; a failing read is served by the other copy and repaired", async () => {
  const rig = mirrorRig();
  await remapWith(rig, 5, pattern(BS, 1));
  const next = pattern(BS, 2);
  await rig.dev.write(5 * BS, next);
  const [slot, mirror] = copies(rig.dev, 5);
  const pool = rig.dev.core.pool;
  for (const s of [slot, mirror])
    assert.deepEqual(
      await readBytes(rig.media[pool.spareIndexOf(s)]!, pool.offsetOf(s), BS),
      Buffer.from(next),
    );
  // The first copy's sectors go bad for reads: the read comes from the second copy, then repair.
  const bad = rig.spares[pool.spareIndexOf(slot)]!;
  bad.healOnWrite = true;
  const firstSector = pool.offsetOf(slot) / 512;
  for (let s = 0; s < BS / 512; s++) bad.badReads.add(firstSector + s);
  assert.deepEqual(await readBytes(rig.dev, 5 * BS, BS), Buffer.from(next));
  await rig.dev.idle();
  assert.equal(rig.dev.status().mirror?.readFallbacks, 1);
  assert.equal(rig.dev.status().mirror?.repaired, 1);
  assert.deepEqual(
    rig.events.map((e) => e.action),
    ["repaired"],
  );
  assert.equal(bad.badReads.size, 0, "the rewrite healed the copy");
  assert.deepEqual(copies(rig.dev, 5), [slot, mirror], "repaired in place");
});

test("a copy whose write fails is dropped before the write is acknowledged and re-made on a third spare", async () => {
  const rig = mirrorRig();
  await remapWith(rig, 7, pattern(BS, 1));
  const [slot, mirror] = copies(rig.dev, 7);
  const pool = rig.dev.core.pool;
  const failing = pool.spareIndexOf(mirror);
  rig.spares[failing]!.breakBlock(pool.offsetOf(mirror) / BS, BS, { writes: true });
  const next = pattern(BS, 3);
  await rig.dev.write(7 * BS, next);
  const [slot2, mirror2] = copies(rig.dev, 7);
  assert.equal(slot2, slot);
  assert.notEqual(mirror2, mirror);
  const spares = new Set([pool.spareIndexOf(slot2), pool.spareIndexOf(mirror2)]);
  assert.equal(spares.size, 2);
  assert.ok(!spares.has(failing), "no copy left on the failing spare");
  // After a restart the table holds the two good copies: the stale one is never read.
  await rig.dev.close();
  const dev = rig.reopen();
  assert.deepEqual(copies(dev, 7), [slot2, mirror2]);
  assert.deepEqual(await readBytes(dev, 7 * BS, BS), Buffer.from(next));
});

test("with only two spares and one failing, the block keeps one copy and the set reports mirror degraded", async () => {
  const rig = mirrorRig([8, 8]);
  const states: string[] = [];
  rig.dev.subscribe({ onStateChange: (e) => states.push(e.reason) });
  await remapWith(rig, 2, pattern(BS, 1));
  const [, mirror] = copies(rig.dev, 2);
  const pool = rig.dev.core.pool;
  rig.spares[pool.spareIndexOf(mirror)]!.breakBlock(pool.offsetOf(mirror) / BS, BS, { writes: true });
  await rig.dev.write(2 * BS, pattern(BS, 4));
  assert.equal(rig.dev.core.mirrors.get(2), -1, "the stale copy is dropped");
  const status = rig.dev.status();
  assert.equal(status.state, "degraded");
  assert.match(status.reason, /mirror degraded: 1 remapped blocks have one copy/);
  assert.equal(status.mirror?.singleCopyBlocks, 1);
  assert.ok(
    states.some((r) => /mirror degraded/.test(r)),
    "a state change line names it",
  );
  assert.deepEqual(await readBytes(rig.dev, 2 * BS, BS), Buffer.from(pattern(BS, 4)));
  assert.ok(rig.events.some((e) => e.action === "single-copy"));
});

test("a spare missing at open loses no remapped data; rebuild re-creates the missing copies on the others", async () => {
  const rig = mirrorRig([8, 8, 8]);
  const blocks = [1, 4, 9, 20];
  for (const b of blocks) await remapWith(rig, b, pattern(BS, 10 + b));
  const pool0 = rig.dev.core.pool;
  for (const b of blocks) assert.ok(copies(rig.dev, b).some((s) => pool0.spareIndexOf(s) === 0));
  await rig.dev.close();
  // Spare 0 is gone: the set opens degraded with a MissingDevice in its place.
  const missing = new MissingDevice({ sizeBytes: rig.media[0]!.sizeBytes, name: "spare0-missing" });
  const present = [1, 2].map((i) => new FaultyDevice(new KeepOpenDevice(rig.media[i]!), `spare${i}`));
  const dev = rig.reopen([missing, ...present]);
  for (const b of blocks)
    assert.deepEqual(await readBytes(dev, b * BS, BS), Buffer.from(pattern(BS, 10 + b)));
  assert.deepEqual(dev.blocksNeedingCopies(), blocks);
  for (const b of blocks) assert.equal(await dev.rebuildCopies(b), "rebuilt");
  assert.deepEqual(dev.blocksNeedingCopies(), []);
  const pool = dev.core.pool;
  for (const b of blocks) {
    const [slot, mirror] = copies(dev, b);
    assert.deepEqual(new Set([pool.spareIndexOf(slot), pool.spareIndexOf(mirror)]), new Set([1, 2]));
  }
  assert.equal(pool.perSpare()[0]!.usedBlocks, 0, "the lost copies' slots are free");
  assert.equal(dev.status().mirror?.rebuilt, blocks.length);
  // After a restart (spare 0 still missing) every block reads from its rebuilt copies.
  await dev.close();
  const again = rig.reopen([
    missing,
    ...[1, 2].map((i) => new FaultyDevice(new KeepOpenDevice(rig.media[i]!))),
  ]);
  for (const b of blocks)
    assert.deepEqual(await readBytes(again, b * BS, BS), Buffer.from(pattern(BS, 10 + b)));
  assert.equal(again.status().mirror?.singleCopyBlocks, 0);
});

test("with two spares and one missing, rebuild keeps one copy and says so", async () => {
  const rig = mirrorRig([8, 8]);
  await remapWith(rig, 3, pattern(BS, 3));
  await rig.dev.close();
  const missing = new MissingDevice({ sizeBytes: rig.media[0]!.sizeBytes, name: "spare0-missing" });
  const dev = rig.reopen([missing, new FaultyDevice(new KeepOpenDevice(rig.media[1]!), "spare1")]);
  assert.deepEqual(await readBytes(dev, 3 * BS, BS), Buffer.from(pattern(BS, 3)));
  assert.equal(dev.status().state, "degraded");
  assert.match(dev.status().reason, /1 healthy spare\(s\), 2 needed/);
  assert.equal(await dev.rebuildCopies(3), "single");
  assert.deepEqual(await readBytes(dev, 3 * BS, BS), Buffer.from(pattern(BS, 3)));
});

test("a spare failing at run time: reads come from the other copy, writes keep the good copy", async () => {
  const rig = mirrorRig([8, 8]);
  await remapWith(rig, 6, pattern(BS, 6));
  const [slot] = copies(rig.dev, 6);
  const pool = rig.dev.core.pool;
  const dying = rig.spares[pool.spareIndexOf(slot)]!;
  for (let s = 0; s < dying.sizeBytes / 512; s++) {
    dying.badReads.add(s);
    dying.badWrites.add(s);
  }
  assert.deepEqual(await readBytes(rig.dev, 6 * BS, BS), Buffer.from(pattern(BS, 6)));
  await rig.dev.idle();
  // The repair failed on the dying spare: the block now lives on the other spare alone.
  const [slot2, mirror2] = copies(rig.dev, 6);
  assert.notEqual(pool.spareIndexOf(slot2), pool.spareIndexOf(slot));
  assert.equal(mirror2, -1);
  await rig.dev.write(6 * BS, pattern(BS, 7));
  assert.deepEqual(await readBytes(rig.dev, 6 * BS, BS), Buffer.from(pattern(BS, 7)));
  assert.equal(rig.dev.status().state, "degraded");
});

test("draining a spare moves the copies it holds and keeps the two copies on two spares", async () => {
  const rig = mirrorRig([8, 8, 8]);
  for (const b of [0, 3, 8]) await remapWith(rig, b, pattern(BS, b + 1));
  const onSpare0 = rig.dev.blocksOnSpare(0);
  assert.ok(onSpare0.length > 0);
  for (const b of onSpare0) assert.equal(await rig.dev.moveOffSpare(b, 0, "test drain"), "moved");
  assert.deepEqual(rig.dev.blocksOnSpare(0), []);
  const pool = rig.dev.core.pool;
  for (const b of [0, 3, 8]) {
    const [slot, mirror] = copies(rig.dev, b);
    assert.deepEqual(new Set([pool.spareIndexOf(slot), pool.spareIndexOf(mirror)]), new Set([1, 2]));
    assert.deepEqual(await readBytes(rig.dev, b * BS, BS), Buffer.from(pattern(BS, b + 1)));
  }
  assert.equal(pool.perSpare()[0]!.usedBlocks, 0);
});

test("unremap frees both copies; an unmirrored set journals no mirror record and has no mirror status", async () => {
  const rig = mirrorRig();
  await remapWith(rig, 4, pattern(BS, 4));
  rig.main.badWrites.clear();
  rig.main.badReads.clear();
  await rig.dev.unremapBlock(4);
  assert.equal(rig.dev.core.pool.usedSlots, 0);
  assert.equal(rig.dev.core.mirrors.size, 0);
  await rig.dev.close();
  assert.equal(rig.reopen().core.mirrors.size, 0, "replay drops the second copy with the unremap");

  const plain = mirrorRig([8, 8], 1);
  await remapWith(plain, 4, pattern(BS, 4));
  assert.deepEqual(
    plain.durable.journal.map((r) => r.type),
    ["remap"],
  );
  assert.equal(plain.dev.status().mirror, undefined);
  assert.equal(plain.dev.core.pool.usedSlots, 1);
});

test("a mirrored set reopens with both copies from the journal and from a checkpoint", async () => {
  const rig = mirrorRig();
  for (const b of [2, 11]) await remapWith(rig, b, pattern(BS, b));
  const before = [copies(rig.dev, 2), copies(rig.dev, 11)];
  await rig.dev.close(); // close writes a checkpoint
  assert.deepEqual(rig.durable.journal, []);
  assert.equal(rig.durable.base.mirrors?.blocks.length, 2);
  const dev = rig.reopen();
  assert.deepEqual([copies(dev, 2), copies(dev, 11)], before);
  assert.equal(dev.core.pool.usedSlots, 4);
});
