// Relocation: a metadata write that fails on bad sectors (the real fault layer, dust) moves that
// structure to its end's relocation area, records the move, and says so in status; a crash at every
// write and flush of a relocation leaves the acknowledged table.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { BlockDevice } from "../block/block-device.js";
import { FaultDevice } from "../block/fault-device.js";
import { MemoryDevice } from "../block/memory-device.js";
import { Prng } from "../block/prng.js";
import { CrashDevice, CrashRecorder } from "../testing/crash-device.js";
import type { JournalRecord } from "./metadata-store.js";
import { createSet } from "./create-set.js";
import { endGeometry } from "./layout.js";
import { checkSet, openSet } from "./open-set.js";
import type { SpareStore } from "./spare-store.js";
import { TableModel, canonical } from "./test-fixtures.js";
import { emptySnapshot } from "./table-state.js";

const SPARE_BYTES = 262144;

/** A fault layer with 512-byte dust blocks (bad sectors) over `lower`. */
function withBadSectors(lower: BlockDevice, offsets: readonly number[]): FaultDevice {
  return new FaultDevice(lower, {
    rules: [{ kind: "dust", blockSize: 512, blocks: offsets.map((o) => Math.floor(o / 512)) }],
  });
}

const remap = (block: number, slot: number): JournalRecord => ({
  type: "remap",
  block,
  slot,
  reason: "write-error",
});

test("bad sectors under a checkpoint slot: the slot moves to the relocation area, status says so", async () => {
  const main = new MemoryDevice({ sizeBytes: 65536 });
  const disk = new MemoryDevice({ sizeBytes: SPARE_BYTES, name: "disk" });
  const { store } = await createSet({ main, spares: [disk], blockSize: 512, name: "r", journalBytes: 8192 });
  const g = endGeometry((store as SpareStore).layout, "head", SPARE_BYTES);
  await store.append([remap(1, 1)]);
  await store.close();
  // The set is served on a spare whose head checkpoint slot went bad.
  const spare = withBadSectors(disk, [g.slot]);
  const opened = await openSet({ spares: [spare] });
  assert.equal(canonical(opened.snapshot), "1:1||");
  await opened.store.append([remap(2, 2)]);
  await opened.store.checkpoint({ ...opened.snapshot, counters: { n: 1 } });
  await opened.store.append([remap(3, 3)]);
  const [copy] = opened.store.copies();
  assert.equal(copy!.state, "ok");
  assert.deepEqual(copy!.relocated, ["head checkpoint slot"]);
  assert.match(copy!.detail ?? "", /moved to the relocation area: head checkpoint slot/);
  await opened.store.close();
  const again = await openSet({ spares: [spare] });
  assert.equal(canonical(again.snapshot), "1:1,2:2,3:3||");
  assert.deepEqual(again.store.copies()[0]!.relocated, ["head checkpoint slot"]);
  const report = await checkSet([spare], { repair: true });
  assert.equal(report.after[0]!.state, "ok");
  // Without the tail, the relocated head slot alone holds the table.
  const headOnly = new MemoryDevice({ sizeBytes: SPARE_BYTES, name: "head-only" });
  const bytes = new Uint8Array(SPARE_BYTES);
  await disk.read(0, bytes);
  bytes.fill(0, SPARE_BYTES - 65536);
  await headOnly.write(0, bytes);
  const fromHead = await openSet({ spares: [withBadSectors(headOnly, [g.slot])] });
  assert.equal(canonical(fromHead.snapshot), "1:1,2:2,3:3||");
});

test("bad sectors under a journal sector: the journal moves, every acknowledged record survives", async () => {
  const main = new MemoryDevice({ sizeBytes: 65536 });
  const disk = new MemoryDevice({ sizeBytes: SPARE_BYTES, name: "disk" });
  const { store } = await createSet({ main, spares: [disk], blockSize: 512, name: "r", journalBytes: 8192 });
  await store.close();
  const layout = (await openSet({ spares: [disk], repair: false })).store;
  const g = endGeometry((layout as SpareStore).layout, "tail", SPARE_BYTES);
  const spare = withBadSectors(disk, [g.journal + 1024]);
  const opened = await openSet({ spares: [spare] });
  const model = new TableModel();
  const rng = new Prng(3);
  for (let i = 0; i < 12; i++) {
    const records = model.randomRecords(rng, 2, 128, 20);
    model.apply(records);
    await opened.store.append(records);
  }
  const [copy] = opened.store.copies();
  assert.equal(copy!.state, "ok");
  assert.deepEqual(copy!.relocated, ["tail journal"]);
  await opened.store.close();
  const again = await openSet({ spares: [spare] });
  assert.equal(canonical(again.snapshot), model.canonical());
  // Head gone: the tail, with its relocated journal, still holds every record.
  const bytes = new Uint8Array(SPARE_BYTES);
  await disk.read(0, bytes);
  bytes.fill(0, 0, 65536);
  const tailOnly = new MemoryDevice({ sizeBytes: SPARE_BYTES, name: "tail-only" });
  await tailOnly.write(0, bytes);
  const fromTail = await openSet({ spares: [withBadSectors(tailOnly, [g.journal + 1024])] });
  assert.equal(canonical(fromTail.snapshot), model.canonical());
});

test("a crash at every write and flush of slot and journal relocations leaves the acknowledged table", async (t) => {
  const recorder = new CrashRecorder();
  recorder.keepLog = false;
  const disk = new CrashDevice({ sizeBytes: SPARE_BYTES, name: "disk", recorder });
  const main = new MemoryDevice({ sizeBytes: 65536 });
  const { store: created } = await createSet({
    main,
    spares: [disk],
    blockSize: 512,
    name: "c",
    journalBytes: 8192,
  });
  await created.close();
  const layout = (await openSet({ spares: [disk], repair: false })).store;
  const L = (layout as SpareStore).layout;
  const bad = [endGeometry(L, "head", SPARE_BYTES).slot, endGeometry(L, "tail", SPARE_BYTES).journal + 512];
  const opened = await openSet({ spares: [withBadSectors(disk, bad)] });
  const model = new TableModel();
  const states = [canonical(opened.snapshot)];
  let acked = 0;
  let points = 0;
  let failure: unknown;
  const rng = new Prng(9);
  const check = async (image: Uint8Array, first: number, last: number) => {
    const d = withBadSectors(new CrashDevice({ sizeBytes: SPARE_BYTES, image, name: "crashed" }), bad);
    const o = await openSet({ spares: [d] });
    const state = canonical(o.snapshot);
    assert.ok(states.slice(first, last + 1).includes(state), `state ${state} not in [${first}, ${last}]`);
    await o.store.close();
    const re = await openSet({ spares: [d], repair: false });
    assert.equal(canonical(re.snapshot), state, "reopen gives the same table");
  };
  recorder.hook = async () => {
    if (failure) return;
    points++;
    const first = acked;
    const last = states.length - 1;
    try {
      await check(disk.durableImage(), first, last);
      await check(disk.currentImage(), first, last);
      await check(disk.crash(rng, { tornProbability: 0.4 }), first, last);
    } catch (err) {
      failure ??= err;
    }
  };
  for (let i = 0; i < 10; i++) {
    const records = model.randomRecords(rng, 2, 128, 20);
    model.apply(records);
    states.push(model.canonical());
    const index = states.length - 1;
    await opened.store.append(records);
    acked = index;
    if (i === 4) await opened.store.checkpoint({ ...emptySnapshot(), counters: { i } });
  }
  recorder.hook = undefined;
  if (failure) throw failure;
  assert.deepEqual(opened.store.copies()[0]!.relocated, ["head checkpoint slot", "tail journal"]);
  t.diagnostic(`relocation crash points: ${points}`);
});
