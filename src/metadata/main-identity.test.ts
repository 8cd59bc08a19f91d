import { test } from "node:test";
import assert from "node:assert/strict";
import type { DeviceIdentity } from "../block/device-identity.js";
import { MemoryDevice } from "../block/memory-device.js";
import { createSet } from "./create-set.js";
import { checkMainIdentity, decodeSetRecord, encodeSetRecord } from "./main-identity.js";
import { openSet } from "./open-set.js";
import type { SpareStore } from "./spare-store.js";
import { MainIdentityMismatchError } from "./errors.js";

const oldDisk: DeviceIdentity = {
  kind: "block",
  path: "/dev/sdb",
  sizeBytes: 65536,
  wwn: "naa.1",
  serial: "S1",
};
const newDisk: DeviceIdentity = {
  kind: "block",
  path: "/dev/sdb",
  sizeBytes: 65536,
  wwn: "naa.2",
  serial: "S2",
};

test("the set record round-trips; an empty or unreadable record reads as nothing recorded", () => {
  const record = { main: oldDisk, spares: ["/dev/sdc1", null] };
  assert.deepEqual(decodeSetRecord(encodeSetRecord(record)), record);
  assert.deepEqual(decodeSetRecord(new Uint8Array(0)), { spares: [] });
  assert.deepEqual(decodeSetRecord(Uint8Array.of(0x7b)), { spares: [] });
  assert.throws(
    () => checkMainIdentity(oldDisk, newDisk, 'set "s"'),
    (err: unknown) =>
      err instanceof MainIdentityMismatchError &&
      err.code === "EMAINMISMATCH" &&
      /expected block device \/dev\/sdb \(wwn naa.1, serial S1, 65536 bytes\), found block device \/dev\/sdb \(wwn naa.2/.test(
        err.message,
      ),
  );
  checkMainIdentity(undefined, newDisk, 'set "s"');
});

test("create records the main identity; open refuses another main; a recorded move is one checkpoint", async () => {
  const main = new MemoryDevice({ sizeBytes: 65536 });
  const spare = new MemoryDevice({ sizeBytes: 262144, name: "spare" });
  const created = await createSet({
    main,
    spares: [spare],
    blockSize: 512,
    name: "id",
    mainIdentity: oldDisk,
  });
  assert.deepEqual(created.mainIdentity, oldDisk);
  await created.store.close();
  const opened = await openSet({ spares: [spare], main, mainIdentity: oldDisk });
  assert.deepEqual(opened.mainIdentity, oldDisk);
  await opened.store.close();
  await assert.rejects(openSet({ spares: [spare], main, mainIdentity: newDisk }), {
    name: "MainIdentityMismatchError",
    message: /main device of set "id" .* is not the recorded one \(wwn naa.2 instead of naa.1\)/,
  });
  const again = await openSet({ spares: [spare], main });
  const generation = again.store.generation;
  await (again.store as SpareStore).commitMainIdentity(newDisk);
  assert.equal(again.store.generation, generation + 1);
  await again.store.close();
  const moved = await openSet({ spares: [spare], main, mainIdentity: newDisk });
  assert.deepEqual(moved.mainIdentity, newDisk);
  assert.deepEqual(moved.notes, []);
});
