// Promises 15 and 16 in virtual time: a main write that outlives its budget is fenced and its block
// moves away; later I/O never overtakes an earlier overlapping write; flush covers earlier writes;
// retries back off across the budget so an outage loses nothing; pending blocks that read back clear.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readBytes } from "../block/base-device.js";
import { MediumError } from "../block/errors.js";
import { MemoryDevice } from "../block/memory-device.js";
import type { RemapPolicy } from "./remap-policy.js";
import { openRemappedDevice, type RemappedDevice } from "./remapped-device.js";
import { FaultyDevice } from "./testing/faulty-device.js";
import { GatedDevice } from "./testing/gated-device.js";
import { createMemorySet } from "./testing/memory-store.js";
import { makeRig, pattern } from "./testing/rig.js";
import { VirtualClock } from "./testing/virtual-clock.js";

const BS = 4096;

interface Stack {
  dev: RemappedDevice;
  gate: GatedDevice;
  media: MemoryDevice;
  clock: VirtualClock;
  spares: FaultyDevice[];
}

function gatedStack(policy: Partial<RemapPolicy>, spareSlots: number[] = [8]): Stack {
  const { opened } = createMemorySet({ blockSize: BS, mainSizeBytes: 32 * BS, spareSlots });
  const media = new MemoryDevice({ sizeBytes: 32 * BS });
  const gate = new GatedDevice(media);
  const spares = opened.store.identity.spares.map(
    (s) => new FaultyDevice(new MemoryDevice({ sizeBytes: s.sizeBytes }), `spare${s.index}`),
  );
  const clock = new VirtualClock();
  const dev = openRemappedDevice({ main: gate, spares, opened, policy, clock });
  return { dev, gate, media, clock, spares };
}

/** Let queued promise callbacks run (virtual time does not move). */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

test("promise 15: a main write past its budget is fenced, the block moves away, the late write lands harmlessly", async () => {
  const fenced: number[] = [];
  const { dev, gate, media, clock } = gatedStack({ mainWriteTimeoutMs: 100 });
  (dev as unknown as { core: { events: Record<string, unknown> } }).core.events.onFencedWrite = (e: {
    block: number;
  }) => fenced.push(e.block);
  gate.closeGate(3 * BS, 4 * BS);
  const a = dev.write(3 * BS, pattern(BS, 0xa));
  await settle();
  assert.equal(gate.held, 1, "write A is stuck on main");
  clock.advance(100);
  await a; // answered in time: the data went to a spare instead
  assert.deepEqual(fenced, [3]);
  let st = dev.status();
  assert.equal(st.fence.abandonedWrites, 1);
  assert.equal(st.fence.fencedNow, 1, "A's range stays fenced while main still works on it");
  assert.equal(dev.list().entries[0]?.reason, "write-error");
  assert.match(dev.list().entries[0]?.detail ?? "", /timed out after 100 ms/);
  await dev.write(3 * BS, pattern(BS, 0xb));
  await dev.flush();
  assert.deepEqual(await readBytes(dev, 3 * BS, BS), Buffer.from(pattern(BS, 0xb)));
  gate.open();
  await settle();
  assert.deepEqual(await readBytes(media, 3 * BS, BS), Buffer.from(pattern(BS, 0xa)), "A landed on main...");
  assert.deepEqual(await readBytes(dev, 3 * BS, BS), Buffer.from(pattern(BS, 0xb)), "...where nobody reads");
  st = dev.status();
  assert.equal(st.fence.fencedNow, 0);
  await dev.close();
});

test("promise 15: later I/O never overtakes an earlier overlapping main write; flush covers earlier writes", async () => {
  const { dev, gate, media } = gatedStack({ mainWriteTimeoutMs: 0 });
  gate.closeGate(5 * BS, 6 * BS);
  const a = dev.write(5 * BS, pattern(BS, 1));
  await settle();
  let bDone = false;
  let readDone = false;
  let flushed = false;
  const b = dev.write(5 * BS + 512, pattern(512, 2)).then(() => (bDone = true));
  const r = readBytes(dev, 5 * BS, BS).then((got) => {
    readDone = true;
    return got;
  });
  const f = dev.flush().then(() => (flushed = true));
  // Disjoint I/O is not held back.
  await dev.write(9 * BS, pattern(BS, 3));
  await settle();
  assert.equal(bDone || readDone || flushed, false, "B, the read and the flush wait for A");
  assert.equal(gate.held, 1);
  gate.open();
  await Promise.all([a, b, f]);
  const expect = pattern(BS, 1);
  expect.set(pattern(512, 2), 512);
  assert.deepEqual(await r, Buffer.from(expect), "the read is ordered after A and B");
  assert.deepEqual(await readBytes(media, 5 * BS, BS), Buffer.from(expect), "B landed after A");
  await dev.close();
});

test("promise 15: a write still queued behind a fenced one when its budget ends never reaches main", async () => {
  const { dev, gate, media, clock } = gatedStack({ mainWriteTimeoutMs: 100 });
  gate.closeGate(7 * BS, 8 * BS);
  const a = dev.write(7 * BS, pattern(BS, 1));
  await settle();
  clock.advance(50);
  const b = dev.write(7 * BS, pattern(BS, 2));
  await settle();
  clock.advance(50); // A's budget ends: block 7 moves to a spare; B then writes there
  await Promise.all([a, b]);
  assert.deepEqual(await readBytes(dev, 7 * BS, BS), Buffer.from(pattern(BS, 2)));
  gate.open();
  await settle();
  assert.deepEqual(await readBytes(media, 7 * BS, BS), Buffer.from(pattern(BS, 1)), "only A reached main");
  assert.deepEqual(await readBytes(dev, 7 * BS, BS), Buffer.from(pattern(BS, 2)));
  await dev.close();
});

test("promise 16: retries back off across the budget, so a 200 ms outage marks nothing pending", async () => {
  const rig = makeRig({ blocks: 64, spareSlots: [16] });
  const { dev, main, clock } = rig;
  await dev.write(0, pattern(64 * BS, 4));
  await dev.flush();
  // Main fails every read for 200 ms of (virtual) time from now.
  const outageEnd = clock.now() + 200;
  const read = main.read.bind(main);
  main.read = async (offset: number, target: Uint8Array) => {
    if (clock.now() < outageEnd) throw new MediumError("main", "read", offset, target.length);
    return read(offset, target);
  };
  const parts = [];
  for (let b = 0; b < 64; b += 4) parts.push(readBytes(dev, b * BS, 4 * BS));
  const got = await Promise.all(parts);
  assert.deepEqual(Buffer.concat(got), Buffer.from(pattern(64 * BS, 4)));
  await dev.idle();
  const st = dev.status();
  assert.equal(st.pendingBlocks, 0);
  assert.equal(st.remappedBlocks, 0, "one outage is one occasion: no block migrates");
  assert.ok(st.retries.read > 0 && st.retries.read < 64 * 10, `retries ${st.retries.read}`);
  console.log(
    `outage: ${st.retries.read} retries, ${st.errorCounts.read} read errors, 0 pending, 0 migrated`,
  );
});

test("promise 16: a block is pending only when the whole budget is spent", async () => {
  const rig = makeRig({ policy: { readRetryBudgetMs: 1000 } });
  rig.main.breakBlock(2, BS, { reads: true });
  const start = rig.clock.now();
  await assert.rejects(rig.dev.read(2 * BS, new Uint8Array(BS)), MediumError);
  assert.ok(rig.clock.now() - start >= 1000, `gave up after ${rig.clock.now() - start} ms`);
  assert.equal(rig.dev.status().pendingBlocks, 1);
});

test("promise 16: a pending block whose data reads back later is cleared (and said so)", async () => {
  const cleared: unknown[] = [];
  const rig = makeRig({ events: { onPendingCleared: (e) => cleared.push(e) } });
  await rig.dev.write(4 * BS, pattern(BS, 6));
  rig.main.breakBlock(4, BS, { reads: true });
  await assert.rejects(rig.dev.read(4 * BS, new Uint8Array(BS)), MediumError);
  assert.equal(rig.dev.status().pendingBlocks, 1);
  await assert.rejects(rig.dev.read(4 * BS, new Uint8Array(BS)), MediumError, "still unreadable: EIO");
  rig.main.badReads.clear();
  assert.deepEqual(
    await readBytes(rig.dev, 4 * BS + 100, 200),
    Buffer.from(pattern(BS, 6).subarray(100, 300)),
  );
  assert.deepEqual(cleared, [{ block: 4, reason: "read-back" }]);
  assert.equal(rig.dev.status().pendingBlocks, 0);
  assert.deepEqual(rig.durable.journal.at(-1), { type: "clear-pending", block: 4 });
  // An operator's mark is not second-guessed: it stays until the block is written.
  await rig.dev.markPending(8);
  await assert.rejects(rig.dev.read(8 * BS, new Uint8Array(BS)), MediumError);
});

test("promise 16: spare reads are retried too", async () => {
  const { dev, spares, gate } = gatedStack({});
  const main = gate;
  void main;
  await dev.remapBlock(2);
  await dev.write(2 * BS, pattern(BS, 9));
  const slotSector = (BS + 0) / 512; // slot 0 sits right after one block of metadata
  spares[0]!.transientReads.set(slotSector, 2);
  assert.deepEqual(await readBytes(dev, 2 * BS, BS), Buffer.from(pattern(BS, 9)));
  assert.equal(dev.status().retries.spare, 2);
  await dev.close();
});

test("a remapped block whose spare fails writes gets a new slot on another spare; unknown bytes read EIO", async () => {
  const { dev, spares } = gatedStack({}, [2, 2]);
  await dev.remapBlock(1); // slot 0 (spare 0)
  await dev.remapBlock(2); // slot 1 (spare 0)
  await dev.remapBlock(3); // slot 2 (spare 1)
  await dev.write(3 * BS, pattern(BS, 3));
  await dev.unremapBlock(2); // frees slot 1 on spare 0
  // Spare 1 dies: every read and write of its slots fails (as a missing spare's placeholder does).
  for (let s = 0; s < (3 * BS) / 512; s++) {
    spares[1]!.badReads.add(s);
    spares[1]!.badWrites.add(s);
  }
  await dev.write(3 * BS + 1024, pattern(1024, 4));
  const entry = dev.list().entries.find((e) => e.block === 3);
  assert.equal(entry?.spare, 0, "block 3 moved to the healthy spare");
  assert.deepEqual(await readBytes(dev, 3 * BS + 1024, 1024), Buffer.from(pattern(1024, 4)));
  await assert.rejects(
    dev.read(3 * BS, new Uint8Array(512)),
    MediumError,
    "old bytes on the dead spare: EIO",
  );
  assert.deepEqual(entry?.lostSectors, [0, 1, 4, 5, 6, 7]);
  await dev.close();
});

test("promise 15: a read waiting behind a write that gets abandoned is answered from the block's new home", async () => {
  const { dev, gate, clock } = gatedStack({ mainWriteTimeoutMs: 100 });
  gate.closeGate(3 * BS, 4 * BS);
  const a = dev.write(3 * BS, pattern(BS, 0xa));
  await settle();
  const r = readBytes(dev, 3 * BS, BS);
  await settle();
  clock.advance(100);
  await a;
  assert.deepEqual(await r, Buffer.from(pattern(BS, 0xa)), "the read sees A, from the spare");
  assert.equal(dev.list().entries[0]?.block, 3);
  gate.open();
  await dev.close();
});
