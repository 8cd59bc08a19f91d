// A set opened without one of its spares: the missing spare becomes a placeholder that fails every
// I/O, so blocks whose slot lived there read EIO while the rest serves, and when the spare comes
// back the newer generation wins, its stale copy is repaired and no slot is used twice.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readBytes } from "../block/base-device.js";
import { MediumError } from "../block/errors.js";
import { MemoryDevice } from "../block/memory-device.js";
import { MissingDevice } from "../block/missing-device.js";
import { createSet } from "../metadata/create-set.js";
import { openSet } from "../metadata/open-set.js";
import { openRemappedDevice } from "./remapped-device.js";
import { withMissingSpares } from "./set-devices.js";
import { KeepOpenDevice, pattern } from "./testing/rig.js";

const BS = 4096;

test("a missing spare: its blocks read EIO, the rest is intact and writable, its return is repaired", async () => {
  const media = [1 << 20, 1 << 20, 1 << 20].map((sizeBytes) => new MemoryDevice({ sizeBytes }));
  const layers = () => media.map((m) => new KeepOpenDevice(m));
  const [main, s0, s1] = layers();
  const opened = await createSet({
    main: main!,
    spares: [s0!, s1!],
    blockSize: BS,
    name: "deg",
    journalBytes: 8192,
  });
  const { spares } = opened.store.identity;
  // Block 1 on spare 0, block 2 on spare 1, both through the manual remap records.
  await opened.store.append([
    { type: "remap", block: 1, slot: spares[0]!.firstSlot, reason: "manual" },
    { type: "remap", block: 2, slot: spares[1]!.firstSlot, reason: "manual" },
  ]);
  await s0!.write(spares[0]!.dataOffsetBytes, Buffer.from(pattern(BS, 1)));
  await s1!.write(spares[1]!.dataOffsetBytes, Buffer.from(pattern(BS, 2)));
  await main!.write(3 * BS, Buffer.from(pattern(BS, 3)));
  await opened.store.close();

  const [main2, spare0] = layers();
  const degraded = await openSet({ spares: [spare0!], main: main2! });
  assert.deepEqual(
    degraded.missingSpares?.map((m) => [m.index, m.lastKnownDevice !== undefined]),
    [[1, true]],
  );
  const devices = withMissingSpares([spare0!, undefined], degraded);
  assert.ok(devices[1] instanceof MissingDevice);
  assert.equal(devices[1]!.sizeBytes, spares[1]!.sizeBytes);
  assert.match(devices[1]!.describe(), /missing spare 1 \(.*last seen as/);
  const dev = openRemappedDevice({ main: main2!, spares: devices, opened: degraded });
  assert.deepEqual(await readBytes(dev, 1 * BS, BS), Buffer.from(pattern(BS, 1)));
  assert.deepEqual(await readBytes(dev, 3 * BS, BS), Buffer.from(pattern(BS, 3)));
  await assert.rejects(readBytes(dev, 2 * BS, BS), MediumError);
  // A new remap while degraded lands on the present spare.
  await dev.remapBlock(5);
  await dev.write(5 * BS, Buffer.from(pattern(BS, 5)));
  assert.deepEqual(await readBytes(dev, 5 * BS, BS), Buffer.from(pattern(BS, 5)));
  await dev.close();

  // The spare comes back: the degraded generation wins, its stale copy is repaired.
  const [main3, back0, back1] = layers();
  const full = await openSet({ spares: [back1!, back0!], main: main3! });
  assert.match(full.notes.join("\n"), /is stale/);
  assert.deepEqual(
    full.store.copies().map((c) => c.state),
    ["ok", "ok"],
  );
  const slots = Array.from(full.snapshot.slots);
  assert.equal(new Set(slots).size, slots.length, "no slot used twice");
  const dev2 = openRemappedDevice({
    main: main3!,
    spares: withMissingSpares([back0!, back1!], full),
    opened: full,
  });
  assert.deepEqual(await readBytes(dev2, 2 * BS, BS), Buffer.from(pattern(BS, 2)));
  assert.deepEqual(await readBytes(dev2, 5 * BS, BS), Buffer.from(pattern(BS, 5)));
  assert.deepEqual(await readBytes(dev2, 1 * BS, BS), Buffer.from(pattern(BS, 1)));
  await dev2.close();
});

test("a hole that is not a recorded missing spare is refused by name", async () => {
  const media = [1 << 20, 1 << 20].map((sizeBytes) => new MemoryDevice({ sizeBytes }));
  const opened = await createSet({ main: media[0]!, spares: [media[1]!], blockSize: BS, name: "one" });
  assert.throws(() => withMissingSpares([undefined], opened), /set "one": spare 0 \(.*\) missing/);
});
