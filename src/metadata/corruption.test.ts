import { test } from "node:test";
import assert from "node:assert/strict";
import { Prng } from "../block/prng.js";
import type { OpenedSet } from "./metadata-store.js";
import { SUPERBLOCK_BYTES, journalOffset, slotOffset } from "./layout.js";
import { openSet } from "./open-set.js";
import type { SpareStore } from "./spare-store.js";
import { type FailingDevice, TableModel, canonical, cloneDevice, makeSet } from "./test-fixtures.js";

/** A set whose copies use both slots and hold journal batches after the newest checkpoint. */
async function busySet(): Promise<{ spares: FailingDevice[]; model: TableModel; generation: number }> {
  const { spares, opened } = await makeSet({ spares: 3 });
  const model = new TableModel();
  const rng = new Prng(11);
  const step = async (n: number) => {
    for (let i = 0; i < n; i++) {
      const records = model.randomRecords(rng, 4, 128, 100);
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

test("damaging any one region of any one copy is survived and repaired on open", async (t) => {
  const { spares, model, generation } = await busySet();
  const layout = (await openSet({ spares, repair: false })).store as SpareStore;
  const L = layout.layout;
  const regions: Record<string, [number, number]> = {
    "superblock 0": [0, SUPERBLOCK_BYTES],
    "superblock 1": [SUPERBLOCK_BYTES, SUPERBLOCK_BYTES],
    "both superblocks": [0, 2 * SUPERBLOCK_BYTES],
    "slot A header": [slotOffset(L, 0), 512],
    "slot A": [slotOffset(L, 0), L.checkpointSlotBytes],
    "slot B header": [slotOffset(L, 1), 512],
    "slot B body": [slotOffset(L, 1) + 512, 512],
    "journal start": [journalOffset(L), 512],
    journal: [journalOffset(L), L.journalBytes],
  };
  let cases = 0;
  for (let copy = 0; copy < spares.length; copy++) {
    for (const [region, [offset, length]] of Object.entries(regions)) {
      for (const kind of ["zeroed", "garbage"] as const) {
        const devices = await Promise.all(spares.map((s, i) => cloneDevice(s, `disk${i}`)));
        const junk = new Uint8Array(length);
        if (kind === "garbage") new Prng(cases).fill(junk);
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
        if (
          (kind === "garbage" && region !== "journal start") ||
          region.includes("superblock") ||
          region === "slot A" ||
          region === "journal"
        ) {
          assert.match(
            opened.notes.join("\n"),
            new RegExp(`copy on disk${copy} .*(stale|corrupt|ok: superblock|ok: slot)`),
            what,
          );
          assert.match(opened.notes.join("\n"), /repaired set "test"/, what);
        }
        assert.ok(opened.store.generation >= generation, what);
        assert.deepEqual(
          opened.store.copies().map((c) => c.state),
          ["ok", "ok", "ok"],
          what,
        );
        await opened.store.close();
        const again = await openSet({ spares: devices, repair: false });
        assert.deepEqual(again.notes, [], `${what}: nothing left to repair`);
        assert.equal(canonical(again.snapshot), model.canonical(), what);
        cases++;
      }
    }
  }
  t.diagnostic(`${cases} damaged-copy cases`);
});

test("a removed copy is survived: the set opens degraded from the others", async () => {
  const { spares, model } = await busySet();
  for (let missing = 0; missing < spares.length; missing++) {
    const devices = await Promise.all(spares.map((s, i) => cloneDevice(s, `disk${i}`)));
    const opened = await openSet({ spares: devices.filter((_, i) => i !== missing) });
    assert.equal(canonical(opened.snapshot), model.canonical());
    assert.equal(opened.store.copies()[missing]!.state, "failed");
    assert.match(opened.notes.join("\n"), /missing: running degraded/);
  }
});

test("a fully blank device is refused, not adopted", async () => {
  const { spares } = await busySet();
  const blank = await cloneDevice(spares[0]!, "blank-disk");
  await blank.write(0, new Uint8Array(65536));
  await assert.rejects(openSet({ spares: [blank, spares[1]!, spares[2]!] }), {
    code: "EUNKNOWNSPARE",
    message: /spare blank-disk holds no valid dmremap metadata of set "test"/,
  });
});
