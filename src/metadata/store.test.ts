import { test } from "node:test";
import assert from "node:assert/strict";
import { MemoryDevice } from "../block/memory-device.js";
import { Prng } from "../block/prng.js";
import type { JournalRecord } from "./metadata-store.js";
import { createSet } from "./create-set.js";
import { checkSet, openSet } from "./open-set.js";
import type { SpareStore } from "./spare-store.js";
import { emptySnapshot } from "./table-state.js";
import { TableModel, canonical, cloneDevice, makeSet } from "./test-fixtures.js";

const remap = (block: number, slot: number): JournalRecord => ({
  type: "remap",
  block,
  slot,
  reason: "write-error",
});

test("create -> append -> reopen shows the records, in any spare order", async () => {
  const { main, spares, opened } = await makeSet();
  assert.equal(opened.store.generation, 1);
  await opened.store.append([remap(3, 0), { type: "pending", block: 7 }]);
  await opened.store.append([{ type: "lost", block: 3, sectorMask: Uint8Array.of(1) }]);
  assert.equal(opened.store.generation, 3);
  await opened.store.close();
  const again = await openSet({ spares: [...spares].reverse(), main });
  assert.equal(canonical(again.snapshot), "3:0|7|3:01");
  assert.equal(again.store.generation, 3);
  assert.deepEqual(again.notes, []);
  assert.deepEqual(
    again.store.copies().map((c) => [c.device, c.state, c.generation]),
    [
      ["spare0", "ok", 3],
      ["spare1", "ok", 3],
    ],
  );
  assert.equal(again.store.identity.mainSpec, "mem:64K");
});

test("checkpoint + journal replay, and the generation only grows across reopen", async () => {
  const { spares, opened } = await makeSet();
  const model = new TableModel();
  const rng = new Prng(7);
  let store = opened.store;
  let lastGen = 0;
  for (let round = 0; round < 6; round++) {
    for (let i = 0; i < 4; i++) {
      const records = model.randomRecords(rng, 3, 128, 100);
      model.apply(records);
      await store.append(records);
    }
    if (round % 2 === 0) await store.checkpoint({ ...emptySnapshot(), counters: { round } });
    const generation = store.generation;
    assert.ok(generation > lastGen, "every commit raises the generation");
    await store.close();
    const reopened = await openSet({ spares });
    assert.equal(canonical(reopened.snapshot), model.canonical());
    assert.equal(reopened.store.generation, generation, "the generation is read back from disk");
    assert.equal(reopened.snapshot.counters.round, round - (round % 2));
    lastGen = generation;
    store = reopened.store;
  }
});

test("the journal ring wraps across many checkpoints (explicit and automatic)", async () => {
  const { spares, opened } = await makeSet({ journalBytes: 8192 });
  const store = opened.store as SpareStore;
  const model = new TableModel();
  const rng = new Prng(3);
  let wanted = 0;
  for (let i = 0; i < 120; i++) {
    const records = model.randomRecords(rng, 1 + rng.nextInt(20), 128, 100);
    model.apply(records);
    await store.append(records);
    if (store.wantsCheckpoint && i % 10 === 0) {
      wanted++;
      await store.checkpoint({ ...emptySnapshot(), counters: { i } });
      assert.equal(store.wantsCheckpoint, false);
    }
    if (i % 17 === 0) {
      const clones = await Promise.all(spares.map((s, k) => cloneDevice(s, `clone${k}`)));
      const peek = await openSet({ spares: clones, repair: false });
      assert.equal(canonical(peek.snapshot), model.canonical(), `state after append ${i}`);
    }
  }
  assert.ok(wanted >= 2, `explicit checkpoints: ${wanted}`);
  assert.ok(store.stats.checkpoints > wanted, "the store also checkpointed by itself when the ring was full");
  assert.ok(store.stats.batches > 60);
  await store.close();
  const reopened = await openSet({ spares });
  assert.equal(canonical(reopened.snapshot), model.canonical());
});

test("group commit: 100 concurrent appends share few flushes and are all durable", async () => {
  const { spares, opened } = await makeSet({ journalBytes: 65536, spareBytes: 524288 });
  const flushesBefore = spares[0]!.status().flushes;
  const model = new TableModel();
  const all = [];
  for (let i = 0; i < 100; i++) {
    const r: JournalRecord = { type: "pending", block: i };
    model.apply([r]);
    all.push(opened.store.append([r]));
  }
  await Promise.all(all);
  const flushes = spares[0]!.status().flushes - flushesBefore;
  assert.ok(flushes <= 10, `${flushes} flushes for 100 appends`);
  assert.ok(flushes >= 1);
  const reopened = await openSet({ spares });
  assert.equal(canonical(reopened.snapshot), model.canonical());
});

test("a write or flush error fails one copy for good; the others carry on; open repairs it", async () => {
  for (const kind of ["write", "flush"] as const) {
    const { spares, opened } = await makeSet();
    await opened.store.append([remap(1, 1)]);
    if (kind === "write") spares[1]!.failWrites = true;
    else spares[1]!.failFlushes = true;
    await opened.store.append([remap(2, 2)]);
    spares[1]!.failWrites = spares[1]!.failFlushes = false;
    await opened.store.append([remap(3, 3)]);
    const copies = opened.store.copies();
    assert.equal(copies[0]!.state, "ok");
    assert.equal(copies[1]!.state, "failed");
    // A write error first moves the journal to the relocation area; the checkpoint then fails too.
    assert.match(
      copies[1]!.detail ?? "",
      kind === "write" ? /checkpoint write failed/ : /journal flush failed/,
    );
    assert.equal(copies[1]!.generation, 2, "a failed copy is never written again");
    await opened.store.close();
    const reopened = await openSet({ spares });
    assert.equal(canonical(reopened.snapshot), "1:1,2:2,3:3||");
    assert.match(reopened.notes.join("\n"), /spare1 \(spare 1\) is stale/);
    assert.deepEqual(
      reopened.store.copies().map((c) => c.state),
      ["ok", "ok"],
    );
  }
});

test("errors on every copy reject with MetadataWriteError, now and later", async () => {
  const { spares, opened } = await makeSet();
  for (const s of spares) s.failFlushes = true;
  await assert.rejects(opened.store.append([remap(1, 1)]), {
    name: "MetadataWriteError",
    code: "EMETAWRITE",
  });
  for (const s of spares) s.failFlushes = false;
  await assert.rejects(opened.store.append([remap(2, 2)]), { code: "EMETAWRITE" });
  await assert.rejects(opened.store.checkpoint(opened.snapshot), { code: "EMETAWRITE" });
  assert.deepEqual(
    opened.store.copies().map((c) => c.state),
    ["failed", "failed"],
  );
});

test("a foreign spare, a wrong main and a formatted spare are refused by name", async () => {
  const a = await makeSet();
  const b = await makeSet();
  const idA = a.opened.store.identity.uuid;
  const idB = b.opened.store.identity.uuid;
  const foreign = await cloneDevice(b.spares[0]!, "other-set-disk");
  await assert.rejects(
    openSet({ spares: [a.spares[0]!, a.spares[1]!, foreign] }),
    (err: Error & { code?: string }) => {
      assert.equal(err.code, "EFOREIGN");
      assert.match(err.message, /other-set-disk/);
      assert.ok(err.message.includes(idA) && err.message.includes(idB));
      return true;
    },
  );
  const wrongMain = new MemoryDevice({ sizeBytes: 131072, name: "bigger-main" });
  await assert.rejects(openSet({ spares: a.spares, main: wrongMain }), (err: Error & { code?: string }) => {
    assert.equal(err.code, "EMAINMISMATCH");
    assert.match(err.message, /main device mem:128K is 131072 bytes.*main device of 65536 bytes/);
    return true;
  });
  const main2 = new MemoryDevice({ sizeBytes: 65536 });
  await assert.rejects(createSet({ main: main2, spares: [a.spares[0]!], blockSize: 512, name: "x" }), {
    code: "ESPAREINUSE",
    message: new RegExp(`spare spare0 already holds dmremap metadata of set "test" \\(${idA}\\)`),
  });
  const forced = await createSet({
    main: main2,
    spares: [a.spares[0]!],
    blockSize: 512,
    name: "x",
    force: true,
  });
  const reopened = await openSet({ spares: [a.spares[0]!] });
  assert.equal(reopened.store.identity.uuid, forced.store.identity.uuid);
  await assert.rejects(openSet({ spares: [a.spares[0]!, a.spares[1]!] }), { code: "EFOREIGN" });
});

test("create validates its options and refuses a spare too small", async () => {
  const main = new MemoryDevice({ sizeBytes: 65536 });
  const tiny = new MemoryDevice({ sizeBytes: 32768, name: "tiny" });
  await assert.rejects(createSet({ main, spares: [tiny], blockSize: 512, name: "t" }), {
    code: "ESPARESMALL",
    message:
      /spare mem:32K \(32768 bytes\) is too small: the metadata areas need \d+ bytes at the head and \d+ at the tail/,
  });
  await assert.rejects(
    createSet({ main, spares: [tiny], blockSize: 3000, name: "t" }),
    /block size 3000 is not a power of two/,
  );
  await assert.rejects(createSet({ main, spares: [], blockSize: 512, name: "t" }), /at least one spare/);
  await assert.rejects(createSet({ main, spares: [tiny, tiny], blockSize: 512, name: "t" }), /given twice/);
});

test("a missing spare opens degraded; when it comes back it is repaired", async () => {
  const { spares, opened } = await makeSet({ spares: 3 });
  await opened.store.append([remap(1, 1)]);
  await opened.store.close();
  const degraded = await openSet({ spares: [spares[2]!, spares[0]!] });
  assert.match(degraded.notes.join("\n"), /spare 1 \(.*\) of set "test" .* is missing: running degraded/);
  const copies = degraded.store.copies();
  assert.equal(copies.length, 3);
  assert.equal(copies[1]!.state, "failed");
  assert.match(copies[1]!.detail ?? "", /running degraded/);
  await degraded.store.append([remap(2, 2)]);
  await degraded.store.close();
  const full = await openSet({ spares });
  assert.equal(canonical(full.snapshot), "1:1,2:2||");
  assert.match(full.notes.join("\n"), /spare1 \(spare 1\) is stale/);
  assert.deepEqual(
    full.store.copies().map((c) => c.state),
    ["ok", "ok", "ok"],
  );
});

test("bad records and capacity overflow are rejected alone", async () => {
  const main = new MemoryDevice({ sizeBytes: 8192 });
  const spares = [new MemoryDevice({ sizeBytes: 131072 })];
  const { store } = await createSet({
    main,
    spares,
    blockSize: 512,
    name: "cap",
    journalBytes: 8192,
    pendingCapacity: 2,
  });
  await assert.rejects(store.append([remap(16, 0)]), {
    code: "EMETARECORD",
    message: /block 16 is outside the main device \(0\.\.15\)/,
  });
  await assert.rejects(store.append([remap(1, 99999)]), {
    code: "EMETARECORD",
    message: /slot 99999 does not exist/,
  });
  await assert.rejects(store.append([{ type: "lost", block: 1, sectorMask: new Uint8Array(2) }]), {
    code: "EMETARECORD",
    message: /mask of block 1 has 2 bytes, expected 1/,
  });
  await store.append([
    { type: "pending", block: 1 },
    { type: "pending", block: 2 },
  ]);
  const over = store.append([{ type: "pending", block: 3 }, remap(3, 3)]);
  const fine = store.append([
    { type: "clear-pending", block: 1 },
    { type: "pending", block: 3 },
  ]);
  await assert.rejects(over, { code: "EMETAFULL", message: /3 pending blocks exceed the capacity of 2/ });
  await fine;
  await store.close();
  const reopened = await openSet({ spares });
  assert.equal(canonical(reopened.snapshot), "|2,3|", "the refused append left no trace");
});

test("a cloned spare (same UUID twice) is refused", async () => {
  const { spares } = await makeSet();
  const clone = await cloneDevice(spares[0]!, "cloned-disk");
  await assert.rejects(openSet({ spares: [spares[0]!, clone, spares[1]!] }), {
    code: "EUNKNOWNSPARE",
    message: /spare0 and cloned-disk both claim to be spare 0 of set "test"/,
  });
});

test("checkSet reports every copy and repairs when asked", async () => {
  const { spares, opened } = await makeSet();
  await opened.store.append([remap(1, 1)]);
  await opened.store.close();
  await spares[1]!.write(0, new Uint8Array(512).fill(0xee));
  const report = await checkSet(spares);
  assert.equal(report.clean, false);
  assert.equal(report.repaired, false);
  assert.match(report.found[1]!.detail ?? "", /head superblocks: no superblock magic/);
  const fixed = await checkSet(spares, { repair: true });
  assert.equal(fixed.repaired, true);
  const clean = await checkSet(spares);
  assert.equal(clean.clean, true);
  assert.equal(clean.generation, 2);
});

test("read-only spares open with a readOnlyReason and refuse appends", async () => {
  const { spares, opened } = await makeSet();
  await opened.store.close();
  for (const s of spares) s.readOnly = true;
  const r = await openSet({ spares });
  assert.match(r.readOnlyReason ?? "", /no metadata copy can be written/);
  await assert.rejects(r.store.append([remap(1, 1)]), { code: "EMETAWRITE" });
});
