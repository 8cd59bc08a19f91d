// Corruption suite: every region at both ends of any one copy, zeroed or overwritten with garbage,
// on sets of one and of three spares; the set must open with its table intact and be repaired.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Prng } from "../block/prng.js";
import type { OpenedSet } from "./metadata-store.js";
import { type End, ENDS, type MetadataLayout, SUPERBLOCK_BYTES, endGeometry, tailStart } from "./layout.js";
import { checkSet, openSet } from "./open-set.js";
import type { SpareStore } from "./spare-store.js";
import { type FailingDevice, TableModel, canonical, cloneDevice, makeSet } from "./test-fixtures.js";

/** A set with several checkpoints behind it and journal batches after the newest one. */
async function busySet(
  spareCount: number,
): Promise<{ spares: FailingDevice[]; model: TableModel; generation: number }> {
  const { spares, opened } = await makeSet({ spares: spareCount });
  const model = new TableModel();
  const rng = new Prng(11);
  const step = async (n: number) => {
    for (let i = 0; i < n; i++) {
      const records = model.randomRecords(rng, 4, 128, 60);
      model.apply(records);
      await opened.store.append(records);
    }
  };
  await step(3);
  await opened.store.checkpoint({ ...opened.snapshot, counters: { c: 1 } });
  await step(3);
  await opened.store.checkpoint({ ...opened.snapshot, counters: { c: 2 } });
  await step(3);
  const generation = opened.store.generation;
  await opened.store.close();
  return { spares, model, generation };
}

/** Every region of one end: [offset, length]. */
function regionsOf(L: MetadataLayout, end: End, sizeBytes: number): Record<string, [number, number]> {
  const g = endGeometry(L, end, sizeBytes);
  const area: [number, number] =
    end === "head" ? [0, L.metadataBytes] : [tailStart(L, sizeBytes), sizeBytes - tailStart(L, sizeBytes)];
  return {
    [`${end} superblock 0`]: [g.superblocks[0], SUPERBLOCK_BYTES],
    [`${end} superblock 1`]: [g.superblocks[1], SUPERBLOCK_BYTES],
    [`${end} both superblocks`]: [Math.min(...g.superblocks), 2 * SUPERBLOCK_BYTES],
    [`${end} slot header`]: [g.slot, 512],
    [`${end} slot body`]: [g.slot + 512, 512],
    [`${end} slot`]: [g.slot, L.checkpointSlotBytes],
    [`${end} journal start`]: [g.journal, 512],
    [`${end} journal`]: [g.journal, L.journalBytes],
    [`${end} relocation area`]: [g.reloc, g.relocBytes],
    [`whole ${end} area`]: area,
  };
}

for (const spareCount of [1, 3]) {
  test(`damaging any one region at either end of any one copy of a ${spareCount}-spare set is survived and repaired`, async (t) => {
    const { spares, model, generation } = await busySet(spareCount);
    const L = ((await openSet({ spares, repair: false })).store as SpareStore).layout;
    const size = spares[0]!.sizeBytes;
    const regions = Object.fromEntries(ENDS.flatMap((end) => Object.entries(regionsOf(L, end, size))));
    let cases = 0;
    for (let copy = 0; copy < spares.length; copy++) {
      for (const [region, [offset, length]] of Object.entries(regions)) {
        for (const kind of ["zeroed", "garbage"] as const) {
          const devices = await Promise.all(spares.map((s, i) => cloneDevice(s, `disk${i}`)));
          const junk = new Uint8Array(length);
          if (kind === "garbage") new Prng(cases + 1).fill(junk);
          await devices[copy]!.write(offset, junk);
          const what = `${kind} ${region} of copy ${copy}`;
          let opened: OpenedSet;
          try {
            opened = await openSet({ spares: devices.slice().reverse() });
          } catch (err) {
            assert.fail(`${what}: open failed: ${String(err)}`);
          }
          assert.equal(canonical(opened.snapshot), model.canonical(), what);
          assert.equal(opened.snapshot.counters.c, 2, what);
          if (!region.includes("relocation"))
            assert.match(opened.notes.join("\n"), /repaired set "test"/, what);
          assert.ok(opened.store.generation >= generation, what);
          assert.deepEqual(
            opened.store.copies().map((c) => c.state),
            spares.map(() => "ok"),
            what,
          );
          await opened.store.close();
          const again = await checkSet(devices);
          assert.equal(again.clean, true, `${what}: nothing left to repair: ${again.notes.join("; ")}`);
          cases++;
        }
      }
    }
    t.diagnostic(
      `${cases} damaged-region cases (${Object.keys(regions).length} regions x 2 kinds x ${spares.length} copies)`,
    );
  });
}

test("a removed copy is survived: the set opens degraded from the others", async () => {
  const { spares, model } = await busySet(3);
  for (let missing = 0; missing < spares.length; missing++) {
    const devices = await Promise.all(spares.map((s, i) => cloneDevice(s, `disk${i}`)));
    const opened = await openSet({ spares: devices.filter((_, i) => i !== missing) });
    assert.equal(canonical(opened.snapshot), model.canonical());
    assert.equal(opened.store.copies()[missing]!.state, "failed");
    assert.match(opened.notes.join("\n"), /missing: running degraded/);
    assert.deepEqual(
      opened.missingSpares?.map((s) => [s.index, s.lastKnownDevice]),
      [[missing, `spare${missing}`]],
    );
  }
});

test("a fully blank device is refused, not adopted", async () => {
  const { spares } = await busySet(3);
  const blank = await cloneDevice(spares[0]!, "blank-disk");
  await blank.write(0, new Uint8Array(blank.sizeBytes));
  await assert.rejects(openSet({ spares: [blank, spares[1]!, spares[2]!] }), {
    code: "EUNKNOWNSPARE",
    message: /spare blank-disk holds no valid dmremap metadata of set "test"/,
  });
});
