// The removed-spare tombstone in the superblock's spare table: it round-trips (zero UUID, same slot
// range), a superblock of a tombstone's own index is rejected, and isEarlierMembership orders a
// membership before and after a removal (and still an add) the way recovery needs.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { SetIdentity, SpareIdentity } from "./metadata-store.js";
import { computeLayout, mainFingerprint } from "./layout.js";
import {
  NO_RELOCATIONS,
  REMOVED_SPARE_UUID,
  type Superblock,
  decodeSuperblock,
  encodeSuperblock,
  isEarlierMembership,
  tombstoneOf,
} from "./superblock.js";

const spare = (index: number, firstSlot: number): SpareIdentity => ({
  uuid: `${index}1111111-2222-3333-4444-555555555555`,
  index,
  sizeBytes: 1 << 26,
  dataOffsetBytes: 90112,
  slotCount: 100,
  firstSlot,
});
const base: SetIdentity = {
  uuid: "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
  name: "t",
  blockSize: 4096,
  mainSizeBytes: 1 << 30,
  mainFingerprint: mainFingerprint(1 << 30, 4096),
  spares: [spare(0, 0), spare(1, 100), spare(2, 200)],
  createdAtMs: 1763750000000,
};
const layout = computeLayout(4096, 49108, 1000, 16384);
const sb = (identity: SetIdentity, spareIndex = 0): Superblock => ({
  identity,
  layout,
  spareIndex,
  relocations: NO_RELOCATIONS,
});
const removed1: SetIdentity = {
  ...base,
  spares: base.spares.map((s) => (s.index === 1 ? tombstoneOf(s) : s)),
};

test("a tombstone round-trips with its slot range; its own superblock is rejected", () => {
  const back = decodeSuperblock(encodeSuperblock(sb(removed1, 2)));
  assert.ok(back.ok);
  assert.deepEqual(back.sb.identity, removed1);
  assert.deepEqual(back.sb.identity.spares[1], {
    ...spare(1, 100),
    uuid: REMOVED_SPARE_UUID,
    removed: true,
  });
  const own = decodeSuperblock(encodeSuperblock(sb(removed1, 1)));
  assert.deepEqual(own, { ok: false, blank: false, reason: "spare 1 is recorded as removed" });
  // A set without a tombstone decodes without the field at all.
  const plain = decodeSuperblock(encodeSuperblock(sb(base)));
  assert.ok(plain.ok);
  assert.ok(plain.sb.identity.spares.every((s) => !("removed" in s)));
});

test("isEarlierMembership: the tombstoned table is newer; adds still order; nothing else does", () => {
  assert.equal(isEarlierMembership(sb(base), sb(removed1)), true);
  assert.equal(isEarlierMembership(sb(removed1), sb(base)), false);
  assert.equal(isEarlierMembership(sb(base), sb(base)), false);
  const added: SetIdentity = { ...removed1, spares: [...removed1.spares, spare(3, 300)] };
  assert.equal(isEarlierMembership(sb(removed1), sb(added)), true);
  assert.equal(isEarlierMembership(sb(base), sb(added)), true);
  // The last spare removed: the shorter table is the earlier one (the device wins while it is intact).
  const shorter: SetIdentity = { ...base, spares: base.spares.slice(0, 2) };
  assert.equal(isEarlierMembership(sb(shorter), sb(base)), true);
  // A changed slot range is not a removal.
  const moved: SetIdentity = {
    ...base,
    spares: base.spares.map((s) => (s.index === 1 ? { ...tombstoneOf(s), slotCount: 99 } : s)),
  };
  assert.equal(isEarlierMembership(sb(base), sb(moved)), false);
  const other: SetIdentity = { ...removed1, name: "u" };
  assert.equal(isEarlierMembership(sb(base), sb(other)), false);
});
