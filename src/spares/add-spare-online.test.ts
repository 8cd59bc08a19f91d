// Adding a spare to a served set: user I/O keeps flowing and verifying while the add runs, the new
// slots take the remaps the full pool refused, and everything survives a close and reopen.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readBytes } from "../block/base-device.js";
import { NoSpaceError } from "../block/errors.js";
import { MemoryDevice } from "../block/memory-device.js";
import { Prng } from "../block/prng.js";
import { createSet } from "../metadata/create-set.js";
import { openSet } from "../metadata/open-set.js";
import { openRemappedDevice } from "../remap/remapped-device.js";
import { KeepOpenDevice, pattern } from "../remap/testing/rig.js";
import { addSpareToServed } from "./add-spare-online.js";

const BS = 4096;

test("a spare added online takes remaps at once while verified I/O continues", async () => {
  const media = [4 << 20, 1 << 20, 1 << 20].map((sizeBytes) => new MemoryDevice({ sizeBytes }));
  const [mainM, spareM, newM] = media.map((m) => new KeepOpenDevice(m));
  const opened = await createSet({
    main: mainM!,
    spares: [spareM!],
    blockSize: BS,
    name: "grow",
    journalBytes: 8192,
  });
  const dev = openRemappedDevice({ main: mainM!, spares: [spareM!], opened });
  const blocks = dev.blockCount;
  const slots0 = dev.status().spare.totalBlocks;
  for (let b = 0; b < blocks; b++) await dev.write(b * BS, pattern(BS, b));
  for (let b = 0; b < slots0; b++) await dev.remapBlock(b);
  await assert.rejects(dev.remapBlock(slots0), NoSpaceError);

  // Verified random writes and reads run until the add is done.
  const rng = new Prng(5);
  const expected = new Map<number, number>();
  let done = false;
  let ops = 0;
  const workload = (async () => {
    while (!done || ops < 50) {
      const b = rng.nextInt(blocks);
      if (rng.nextInt(2) === 0) {
        const seed = 1000 + ops;
        await dev.write(b * BS, pattern(BS, seed));
        expected.set(b, seed);
      } else {
        const got = await readBytes(dev, b * BS, BS);
        assert.ok(Buffer.from(got).equals(pattern(BS, expected.get(b) ?? b)), `block ${b}`);
      }
      ops++;
    }
  })();
  const adding = addSpareToServed(dev, newM!).finally(() => (done = true));
  const [result] = await Promise.all([adding, workload]);
  console.log(
    `# online add: slots usable after ${result.usableAfterMs.toFixed(1)} ms, ${ops} verified I/Os meanwhile`,
  );
  assert.equal(result.added.index, 1);
  assert.equal(result.added.firstSlot, slots0);
  assert.equal(dev.status().spare.totalBlocks, slots0 + result.added.slotCount);
  await dev.remapBlock(slots0);
  await dev.remapBlock(slots0 + 1);
  assert.deepEqual(
    dev.status().spare.perSpare.map((s) => s.usedBlocks),
    [slots0, 2],
  );
  assert.deepEqual(
    dev.status().metadata.copies.map((c) => c.state),
    ["ok", "ok"],
  );
  await dev.close();

  // Reopened from the media with both spares: same table, same data.
  const [mainR, ...sparesR] = media.map((m) => new KeepOpenDevice(m));
  const again = await openSet({ spares: [sparesR[1]!, sparesR[0]!], main: mainR! });
  assert.equal(again.store.identity.spares.length, 2);
  assert.equal(again.snapshot.blocks.length, slots0 + 2);
  const back = openRemappedDevice({ main: mainR!, spares: sparesR, opened: again });
  for (let b = 0; b < blocks; b++)
    assert.ok(
      Buffer.from(await readBytes(back, b * BS, BS)).equals(pattern(BS, expected.get(b) ?? b)),
      `block ${b} after reopen`,
    );
  await back.close();
});

test("an online add refuses a member and a device with a filesystem, and leaves the set as it was", async () => {
  const media = [1 << 20, 1 << 20, 1 << 20].map((sizeBytes) => new MemoryDevice({ sizeBytes }));
  const [mainM, spareM, fsM] = media.map((m) => new KeepOpenDevice(m));
  const opened = await createSet({
    main: mainM!,
    spares: [spareM!],
    blockSize: BS,
    name: "ref",
    journalBytes: 8192,
  });
  const dev = openRemappedDevice({ main: mainM!, spares: [spareM!], opened });
  await assert.rejects(addSpareToServed(dev, spareM!), { code: "ESPAREINUSE" });
  // An ext4 superblock magic at byte 1080.
  const ext = new Uint8Array(2048);
  ext[1080] = 0x53;
  ext[1081] = 0xef;
  await fsM!.write(0, ext);
  await assert.rejects(addSpareToServed(dev, fsM!), { code: "ESIGNATURE", message: /--force/ });
  assert.equal(dev.status().spare.perSpare.length, 1);
  await dev.remapBlock(3);
  await dev.close();
});
