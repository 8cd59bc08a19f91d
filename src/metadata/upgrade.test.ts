// Upgrade of a format version 1 set, from a fixture image made by the version 1 code
// (fixtures/README.md): opened, upgraded in place, data of moved slots intact, and a crash at every
// write and flush of the upgrade leaves a set that opens with the same table.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { gunzipSync } from "node:zlib";
import { fileURLToPath } from "node:url";
import { readBytes } from "../block/base-device.js";
import type { BlockDevice } from "../block/block-device.js";
import { MemoryDevice } from "../block/memory-device.js";
import { Prng } from "../block/prng.js";
import { CrashDevice, CrashRecorder } from "../testing/crash-device.js";
import type { OpenedSet } from "./metadata-store.js";
import { checkSet, openSet } from "./open-set.js";
import { decodeSuperblock } from "./superblock.js";

const FIXTURE = fileURLToPath(new URL("../../../src/metadata/fixtures/v1-spare.img.gz", import.meta.url));
const BLOCKS = [3, 17, 200, 300, 301];

async function fixtureImage(): Promise<Uint8Array> {
  return new Uint8Array(gunzipSync(await readFile(FIXTURE)));
}

/** The fixture's table, with slots left out (the upgrade may move them): blocks, pending, lost. */
function tableOf(opened: OpenedSet): string {
  const s = opened.snapshot;
  const lost = [...s.lost].map(([b, m]) => `${b}:${Buffer.from(m).toString("hex")}`);
  return `${Array.from(s.blocks).join(",")}|${Array.from(s.pending).join(",")}|${lost.join(",")}`;
}

/** Every remapped block's slot still holds its data (block b's slot is filled with b & 255). */
async function checkSlotData(opened: OpenedSet, spare: BlockDevice): Promise<void> {
  const { blocks, slots } = opened.snapshot;
  const spareId = opened.store.identity.spares[0]!;
  for (let i = 0; i < blocks.length; i++) {
    const at = spareId.dataOffsetBytes + slots[i]! * 4096;
    const data = await readBytes(spare, at, 4096);
    assert.ok(
      data.every((x) => x === (blocks[i]! & 255)),
      `slot ${slots[i]} of block ${blocks[i]} lost its data`,
    );
  }
}

test("a format 1 set from the fixture is upgraded on a read-write open, data and table intact", async () => {
  const image = await fixtureImage();
  const spare = new MemoryDevice({ sizeBytes: image.length, name: "fixture-spare" });
  await spare.write(0, image);
  assert.ok(decodeSuperblock(image.subarray(0, 4096)).ok);

  const inspected = await checkSet([spare]);
  assert.equal(inspected.formatVersion, 1);
  assert.equal(inspected.clean, false);
  assert.match(inspected.readOnlyReason ?? "", /format version 1: it is upgraded/);
  const before = await openSet({ spares: [spare], inspect: true });
  assert.equal(tableOf(before), `${BLOCKS.join(",")}|40,500|17:05`);

  const opened = await openSet({ spares: [spare] });
  assert.match(
    opened.notes.join("\n"),
    /upgraded set "fixture-v1" .* from format 1 to format 2 \(2 remapped/,
  );
  assert.equal(opened.readOnlyReason, undefined);
  assert.equal(tableOf(opened), `${BLOCKS.join(",")}|40,500|17:05`);
  assert.deepEqual(opened.snapshot.counters, { "remapsByReason.write-error": 1, "errors.read": 2 });
  await checkSlotData(opened, spare);
  const slotCount = opened.store.identity.spares[0]!.slotCount;
  assert.ok(Array.from(opened.snapshot.slots).every((s) => s < slotCount));
  await opened.store.append([{ type: "pending", block: 7 }]);
  await opened.store.close();

  const report = await checkSet([spare]);
  assert.equal(report.formatVersion, 2);
  assert.equal(report.clean, true, report.notes.join("; "));
  const again = await openSet({ spares: [spare] });
  assert.equal(tableOf(again), `${BLOCKS.join(",")}|7,40,500|17:05`);
  // Both ends now hold a copy: the head alone can go.
  await spare.write(0, new Uint8Array(1 << 17));
  const headless = await openSet({ spares: [spare] });
  assert.equal(tableOf(headless), `${BLOCKS.join(",")}|7,40,500|17:05`);
  await checkSlotData(headless, spare);
});

test("a crash at every write and flush of the upgrade leaves the set openable with its table", async (t) => {
  const image = await fixtureImage();
  const recorder = new CrashRecorder();
  const spare = new CrashDevice({ sizeBytes: image.length, image, name: "spare", recorder });
  const rng = new Prng(5);
  let points = 0;
  let states = 0;
  let failure: unknown;
  const check = async (img: Uint8Array) => {
    const d = new CrashDevice({ sizeBytes: img.length, image: img, name: "crashed" });
    const opened = await openSet({ spares: [d] });
    assert.equal(tableOf(opened), `${BLOCKS.join(",")}|40,500|17:05`);
    await checkSlotData(opened, d);
    await opened.store.close();
    const report = await checkSet([d]);
    assert.equal(report.formatVersion, 2);
    assert.equal(report.clean, true, report.notes.join("; "));
    states++;
  };
  recorder.hook = async () => {
    if (failure) return;
    points++;
    try {
      await check(spare.durableImage());
      await check(spare.currentImage());
      for (let i = 0; i < 3; i++) await check(spare.crash(rng, { tornProbability: 0.4 }));
    } catch (err) {
      failure ??= err;
    }
  };
  const opened = await openSet({ spares: [spare] });
  recorder.hook = undefined;
  if (failure) throw failure;
  assert.equal(tableOf(opened), `${BLOCKS.join(",")}|40,500|17:05`);
  t.diagnostic(`upgrade crash points: ${points}, crash states opened: ${states}`);
  assert.ok(points >= 8);
});
