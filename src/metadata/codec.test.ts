import { test } from "node:test";
import assert from "node:assert/strict";
import type { JournalRecord, SetIdentity, TableSnapshot } from "./metadata-store.js";
import { computeLayout, mainFingerprint, uuidToBytes } from "./layout.js";
import { decodeSuperblock, encodeSuperblock } from "./superblock.js";
import { decodeBatch, encodeBatch } from "./journal-codec.js";
import { decodeBody, decodeCheckpointHeader, encodeBody, encodeSlot } from "./checkpoint-codec.js";
import { TableState } from "./table-state.js";
import { replayRing } from "./scan-copy.js";

const uuid = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
const identity: SetIdentity = {
  uuid,
  name: "näme",
  blockSize: 4096,
  mainSizeBytes: 1 << 30,
  mainFingerprint: mainFingerprint(1 << 30, 4096),
  mainSpec: "file:/dev/sdb",
  spares: [
    {
      uuid: "11111111-2222-3333-4444-555555555555",
      index: 0,
      sizeBytes: 1 << 26,
      dataOffsetBytes: 90112,
      slotCount: 16362,
      firstSlot: 0,
    },
    {
      uuid: "66666666-7777-8888-9999-aaaaaaaaaaaa",
      index: 1,
      sizeBytes: 1 << 27,
      dataOffsetBytes: 90112,
      slotCount: 32746,
      firstSlot: 16362,
    },
  ],
  createdAtMs: 1763750000000,
};
const layout = computeLayout(4096, 49108, 1000, 16384);

test("superblock round-trips and detects corruption", () => {
  const relocations = { head: "slot", tail: "journal" } as const;
  const bytes = encodeSuperblock({ identity, layout, spareIndex: 1, relocations });
  const back = decodeSuperblock(bytes);
  assert.ok(back.ok);
  assert.deepEqual(back.sb.identity, identity);
  assert.deepEqual(back.sb.layout, layout);
  assert.equal(back.sb.spareIndex, 1);
  assert.deepEqual(back.sb.relocations, relocations);
  for (const at of [0, 20, 150, 1600, 4092]) {
    const bad = bytes.slice();
    bad[at]! ^= 0x40;
    const r = decodeSuperblock(bad);
    assert.equal(r.ok, false, `flip at ${at} detected`);
  }
  const blank = decodeSuperblock(new Uint8Array(4096));
  assert.ok(!blank.ok && blank.blank);
});

const records: JournalRecord[] = [
  { type: "remap", block: 2 ** 40 + 3, slot: 77, reason: "read-error" },
  { type: "unremap", block: 5 },
  { type: "pending", block: 9 },
  { type: "clear-pending", block: 9 },
  { type: "lost", block: 12, sectorMask: Uint8Array.of(0x81) },
];

test("journal batches round-trip and any damage invalidates them", () => {
  const setUuid = uuidToBytes(uuid);
  const batch = encodeBatch(setUuid, 42, 40, records);
  assert.equal(batch.length % 512, 0);
  const ring = new Uint8Array(4096);
  ring.set(batch, 1024);
  const d = decodeBatch(ring, 1024, setUuid);
  assert.ok(d);
  assert.deepEqual(d.records, records);
  assert.equal(d.header.generation, 42);
  assert.equal(d.header.checkpointGeneration, 40);
  for (const at of [0, 9, 17, 30, 41, 45, 64, 70, 100]) {
    const bad = ring.slice();
    bad[1024 + at]! ^= 1;
    assert.equal(decodeBatch(bad, 1024, setUuid), undefined, `flip at ${at} detected`);
  }
  assert.equal(decodeBatch(ring, 1024, uuidToBytes(identity.spares[0]!.uuid)), undefined, "other set");
  assert.equal(decodeBatch(ring, 3584 + 512, setUuid), undefined, "out of bounds");
});

test("replay follows generations across a ring wrap and stops at a gap", () => {
  const setUuid = uuidToBytes(uuid);
  const ring = new Uint8Array(2048);
  ring.set(encodeBatch(setUuid, 11, 10, records.slice(0, 1)), 1024);
  ring.set(encodeBatch(setUuid, 12, 10, records.slice(1, 2)), 1536);
  ring.set(encodeBatch(setUuid, 13, 10, records.slice(2, 3)), 0);
  ring.set(encodeBatch(setUuid, 15, 10, records.slice(3, 4)), 512);
  const r = replayRing(ring, { generation: 10, journalStartOffset: 1024 }, setUuid);
  assert.equal(r.generation, 13);
  assert.deepEqual(r.batches.flat(), records.slice(0, 3));
  assert.equal(r.writeOffset, 512);
  assert.equal(r.usedBytes, 1536);
  const stale = replayRing(ring, { generation: 12, journalStartOffset: 1024 }, setUuid);
  assert.equal(stale.batches.length, 0, "batches of an older checkpoint are ignored");
});

function bigSnapshot(n: number): TableSnapshot {
  const blocks = new Float64Array(n);
  const slots = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    blocks[i] = i * 3 + 2 ** 33;
    slots[i] = n - i;
  }
  const lost = new Map<number, Uint8Array>([
    [blocks[5]!, Uint8Array.of(1)],
    [blocks[7]!, Uint8Array.of(0xff)],
  ]);
  return {
    blocks,
    slots,
    pending: Float64Array.of(1, 4, 2 ** 50),
    lost,
    counters: { "remaps.write-error": 3, "errors.read": 1.5 },
  };
}

test("checkpoint slots round-trip, 100k entries included", (t) => {
  const big = computeLayout(4096, 200000, 1000, 16384);
  const snap = bigSnapshot(100000);
  const started = performance.now();
  const body = encodeBody(snap, big, Uint8Array.of(1, 2, 3));
  const place = { spareIndex: 1, end: "tail", relocations: { head: "none", tail: "slot" } } as const;
  const slot = encodeSlot(body, uuidToBytes(uuid), 7, place, 4096);
  const h = decodeCheckpointHeader(slot.subarray(0, 512), uuidToBytes(uuid));
  assert.ok(typeof h !== "string");
  assert.equal(h.generation, 7);
  assert.equal(h.end, "tail");
  assert.equal(h.format, 2);
  assert.deepEqual(h.relocations, place.relocations);
  assert.equal(h.identityBytes, 3);
  assert.equal(h.journalStartOffset, 4096);
  const back = decodeBody(h, slot.subarray(512));
  t.diagnostic(`100k entries encode+decode: ${(performance.now() - started).toFixed(1)} ms`);
  assert.ok(typeof back !== "string");
  assert.deepEqual(back.blocks, snap.blocks);
  assert.deepEqual(back.slots, snap.slots);
  assert.deepEqual(back.pending, snap.pending);
  assert.deepEqual(back.lost, snap.lost);
  assert.deepEqual(back.counters, snap.counters);
  const torn = slot.slice(512);
  torn.fill(0, 512 * 100, 512 * 101);
  assert.equal(decodeBody(h, torn), "body checksum mismatch");
});

test("checkpoint encoding refuses a table larger than the slot", () => {
  assert.throws(
    () => encodeBody(bigSnapshot(10), computeLayout(4096, 5, 10, 16384)),
    /10 remapped blocks exceed the capacity of 5/,
  );
});

test("table state applies records as assignments and undoes a batch that overflows", () => {
  const limits = { blockCount: 100, slotCount: 10, maxEntries: 2, pendingCapacity: 1, maskBytes: 1 };
  const base = bigSnapshot(0);
  const s = new TableState({ ...base, pending: new Float64Array(0), lost: new Map() }, limits);
  assert.equal(
    s.apply([
      { type: "remap", block: 3, slot: 1, reason: "manual" },
      { type: "remap", block: 3, slot: 2, reason: "manual" },
    ]),
    undefined,
  );
  assert.equal(s.entryCount, 1);
  assert.match(
    s.apply([
      { type: "remap", block: 4, slot: 3, reason: "manual" },
      { type: "remap", block: 5, slot: 4, reason: "manual" },
    ]) ?? "",
    /3 remapped blocks exceed/,
  );
  assert.equal(s.entryCount, 1);
  assert.match(
    s.apply([
      { type: "pending", block: 1 },
      { type: "pending", block: 2 },
    ]) ?? "",
    /2 pending blocks exceed/,
  );
  assert.equal(
    s.apply([
      { type: "lost", block: 3, sectorMask: Uint8Array.of(1) },
      { type: "unremap", block: 9 },
    ]),
    undefined,
  );
  const snap = s.snapshot();
  assert.deepEqual(Array.from(snap.blocks), [3]);
  assert.deepEqual(Array.from(snap.slots), [2]);
  assert.equal(snap.pending.length, 0);
  assert.deepEqual([...snap.lost.keys()], [3]);
  s.apply([{ type: "unremap", block: 3 }]);
  assert.equal(s.snapshot().lost.size, 0, "unremap drops lost sectors");
});

test("table state moves a block of its base in place, never in the caller's arrays, and undoes it", () => {
  const limits = { blockCount: 100, slotCount: 50, maxEntries: 3, pendingCapacity: 1, maskBytes: 1 };
  const base: TableSnapshot = {
    blocks: Float64Array.of(1, 2, 3),
    slots: Uint32Array.of(10, 11, 12),
    pending: new Float64Array(0),
    lost: new Map(),
    counters: {},
  };
  const s = new TableState(base, limits);
  assert.equal(s.apply([{ type: "remap", block: 2, slot: 20, reason: "manual" }]), undefined);
  assert.equal(s.slotOf(2), 20);
  assert.equal(s.overlaySize, 0, "a base block that moves needs no overlay entry");
  assert.deepEqual(Array.from(base.slots), [10, 11, 12], "the caller's snapshot is not written");
  // A batch that overflows undoes its in-place moves too.
  assert.match(
    s.apply([
      { type: "remap", block: 1, slot: 21, reason: "manual" },
      { type: "remap", block: 7, slot: 22, reason: "manual" },
    ]) ?? "",
    /4 remapped blocks exceed/,
  );
  assert.equal(s.slotOf(1), 10);
  // A base block unremapped and remapped again goes through the overlay.
  s.apply([{ type: "unremap", block: 3 }]);
  s.apply([{ type: "remap", block: 3, slot: 23, reason: "manual" }]);
  assert.equal(s.entryCount, 3);
  const snap = s.snapshot();
  assert.deepEqual(Array.from(snap.blocks), [1, 2, 3]);
  assert.deepEqual(Array.from(snap.slots), [10, 20, 23]);
  // After a rebase the new base is copied again before its first in-place move.
  s.rebase(snap);
  s.apply([{ type: "remap", block: 1, slot: 24, reason: "manual" }]);
  assert.deepEqual(Array.from(snap.slots), [10, 20, 23]);
  assert.deepEqual(Array.from(s.snapshot().slots), [24, 20, 23]);
});
