// Codecs of mirrored sets: the `mirror` journal record (type 6), the second-copy section of a
// checkpoint, the mirror option in the superblock, and table-state replay of second copies.
import { test } from "node:test";
import assert from "node:assert/strict";
import { NO_MIRROR, type JournalRecord, type SetIdentity, type TableSnapshot } from "./metadata-store.js";
import { computeLayout, mainFingerprint, uuidToBytes } from "./layout.js";
import { decodeSuperblock, encodeSuperblock } from "./superblock.js";
import { decodeBatch, encodeBatch } from "./journal-codec.js";
import { decodeBody, decodeCheckpointHeader, encodeBody, encodeSlot } from "./checkpoint-codec.js";
import { TableState, emptySnapshot, recordProblem } from "./table-state.js";

const uuid = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
const setUuid = uuidToBytes(uuid);
const spare = (index: number, firstSlot: number) => ({
  uuid: `11111111-2222-3333-4444-55555555555${index}`,
  index,
  sizeBytes: 1 << 26,
  dataOffsetBytes: 90112,
  slotCount: 1000,
  firstSlot,
});
const identity: SetIdentity = {
  uuid,
  name: "mirrored",
  blockSize: 4096,
  mainSizeBytes: 1 << 30,
  mainFingerprint: mainFingerprint(1 << 30, 4096),
  spares: [spare(0, 0), spare(1, 1000)],
  createdAtMs: 1763750000000,
  mirrorCopies: 2,
};
const limits = { blockCount: 262144, slotCount: 2000, maxEntries: 2000, pendingCapacity: 100, maskBytes: 1 };

test("the mirror record round-trips in a journal batch, including the drop of a second copy", () => {
  const records: JournalRecord[] = [
    { type: "remap", block: 7, slot: 3, reason: "write-error" },
    { type: "mirror", block: 7, slot: 1003 },
    { type: "mirror", block: 9, slot: NO_MIRROR },
  ];
  const batch = encodeBatch(setUuid, 5, 1, records);
  const decoded = decodeBatch(batch, 0, setUuid);
  assert.deepEqual(decoded?.records, records);
  assert.equal(batch[64 + 32], 6, "record type code 6");
  assert.equal(recordProblem({ type: "mirror", block: 7, slot: 2000 }, limits)?.includes("slot 2000"), true);
  assert.equal(recordProblem({ type: "mirror", block: 7, slot: NO_MIRROR }, limits), undefined);
});

test("replay of mirror records is idempotent; unremap drops the second copy", () => {
  const records: JournalRecord[] = [
    { type: "remap", block: 7, slot: 3, reason: "write-error" },
    { type: "mirror", block: 7, slot: 1003 },
    { type: "remap", block: 2, slot: 4, reason: "manual" },
    { type: "mirror", block: 2, slot: 1004 },
    { type: "unremap", block: 2 },
  ];
  const once = new TableState(emptySnapshot(), limits);
  once.apply(records);
  const twice = new TableState(emptySnapshot(), limits);
  twice.apply(records);
  twice.apply(records);
  for (const t of [once, twice]) {
    const s = t.snapshot();
    assert.deepEqual([...s.mirrors!.blocks], [7]);
    assert.deepEqual([...s.mirrors!.slots], [1003]);
  }
  once.apply([{ type: "mirror", block: 7, slot: NO_MIRROR }]);
  assert.equal(once.snapshot().mirrors, undefined, "no second copy left: no mirror section");
  // Rebase onto a snapshot with mirrors, then overlay changes.
  const base = twice.snapshot();
  const t = new TableState(base, limits);
  t.apply([{ type: "mirror", block: 7, slot: 1010 }]);
  assert.deepEqual([...t.snapshot().mirrors!.slots], [1010]);
});

test("checkpoint bodies carry the second copies; an unmirrored table encodes exactly as before", () => {
  const layout = computeLayout(4096, 2000, 100, 16384, 2);
  const plainLayout = computeLayout(4096, 2000, 100, 16384);
  assert.equal(
    layout.checkpointSlotBytes - plainLayout.checkpointSlotBytes >= 2000 * 12 - 4096,
    true,
    "the slot has room for a second slot per entry",
  );
  const snapshot: TableSnapshot = {
    blocks: Float64Array.of(3, 7, 11),
    slots: Uint32Array.of(0, 1, 2),
    pending: Float64Array.of(5),
    lost: new Map([[7, Uint8Array.of(0x81)]]),
    counters: { "remaps.manual": 3 },
    mirrors: { blocks: Float64Array.of(3, 11), slots: Uint32Array.of(1000, 1001) },
  };
  const body = encodeBody(snapshot, layout, Uint8Array.of(1, 2, 3));
  const slot = encodeSlot(
    body,
    setUuid,
    9,
    { spareIndex: 1, end: "head", relocations: { head: "none", tail: "none" } },
    0,
  );
  const header = decodeCheckpointHeader(slot.subarray(0, 512), setUuid);
  assert.ok(typeof header !== "string");
  assert.equal(header.mirrorCount, 2);
  const decoded = decodeBody(header, slot.subarray(512));
  assert.ok(typeof decoded !== "string");
  assert.deepEqual([...decoded.mirrors!.blocks], [3, 11]);
  assert.deepEqual([...decoded.mirrors!.slots], [1000, 1001]);
  assert.deepEqual([...decoded.blocks], [3, 7, 11]);

  const { mirrors: _, ...plain } = snapshot;
  const plainBody = encodeBody(plain, layout, Uint8Array.of(1, 2, 3));
  assert.equal(body.bytes.length - plainBody.bytes.length, 24);
  assert.deepEqual(
    body.bytes.subarray(0, plainBody.bytes.length),
    plainBody.bytes,
    "mirror section is appended",
  );
  const plainSlot = encodeSlot(
    plainBody,
    setUuid,
    9,
    { spareIndex: 1, end: "head", relocations: { head: "none", tail: "none" } },
    0,
  );
  const plainHeader = decodeCheckpointHeader(plainSlot.subarray(0, 512), setUuid);
  assert.ok(typeof plainHeader !== "string");
  assert.equal(plainHeader.mirrorCount, 0);
  const plainDecoded = decodeBody(plainHeader, plainSlot.subarray(512));
  assert.ok(typeof plainDecoded !== "string");
  assert.equal(plainDecoded.mirrors, undefined);
  // Out-of-order second copies are refused.
  const bad = encodeBody(
    { ...snapshot, mirrors: { blocks: Float64Array.of(11, 3), slots: Uint32Array.of(1, 2) } },
    layout,
  );
  const badSlot = encodeSlot(
    bad,
    setUuid,
    9,
    { spareIndex: 0, end: "head", relocations: { head: "none", tail: "none" } },
    0,
  );
  const badHeader = decodeCheckpointHeader(badSlot.subarray(0, 512), setUuid);
  assert.ok(typeof badHeader !== "string");
  assert.equal(decodeBody(badHeader, badSlot.subarray(512)), "mirrored blocks out of order");
});

test("the superblock records mirror = 2; an unmirrored superblock decodes without it", () => {
  const layout = computeLayout(4096, 2000, 100, 16384, 2);
  const sb = encodeSuperblock({
    identity,
    layout,
    spareIndex: 1,
    relocations: { head: "none", tail: "none" },
  });
  assert.equal(new DataView(sb.buffer).getUint32(12, true), 2);
  const decoded = decodeSuperblock(sb);
  assert.ok(decoded.ok);
  assert.equal(decoded.sb.identity.mirrorCopies, 2);
  const { mirrorCopies: _, ...plainIdentity } = identity;
  const plain = decodeSuperblock(
    encodeSuperblock({
      identity: plainIdentity,
      layout,
      spareIndex: 0,
      relocations: { head: "none", tail: "none" },
    }),
  );
  assert.ok(plain.ok);
  assert.equal("mirrorCopies" in plain.sb.identity, false);
});
