// Promise 4 at scale: with 1 % seeded transient read errors on main and the default policy, a full
// read of a 1 GiB export migrates no block; a weak block that fails again and again does migrate.
import { test } from "node:test";
import assert from "node:assert/strict";
import { LayerDevice, readBytes } from "../block/base-device.js";
import type { BlockDevice } from "../block/block-device.js";
import { MediumError } from "../block/errors.js";
import { MemoryDevice } from "../block/memory-device.js";
import { Prng } from "../block/prng.js";
import { ErrorHistory } from "./error-history.js";
import { openRemappedDevice } from "./remapped-device.js";
import { createMemorySet } from "./testing/memory-store.js";
import { makeRig, pattern } from "./testing/rig.js";
import { VirtualClock } from "./testing/virtual-clock.js";

const BS = 4096;

/** Fails each read with probability `rate` (seeded): a flaky cable or link, not a bad medium. */
class TransientReads extends LayerDevice {
  readonly name = "transient";
  private readonly prng: Prng;
  failures = 0;
  constructor(
    lower: BlockDevice,
    private readonly rate: number,
    seed: number,
  ) {
    super(lower);
    this.prng = new Prng(seed);
  }
  protected override _read(offsetBytes: number, target: Uint8Array): Promise<void> {
    if (this.prng.next() < this.rate) {
      this.failures++;
      return Promise.reject(new MediumError(this.name, "read", offsetBytes, target.length));
    }
    return this.lower.read(offsetBytes, target);
  }
  describe(): string {
    return "transient";
  }
}

test("promise 4: 1 % transient read errors over a full read of 1 GiB migrate no block", async () => {
  const size = 1 << 30;
  const { opened } = createMemorySet({ blockSize: BS, mainSizeBytes: size, spareSlots: [1024] });
  const main = new TransientReads(new MemoryDevice({ sizeBytes: size }), 0.01, 42);
  const spare = new MemoryDevice({ sizeBytes: opened.store.identity.spares[0]!.sizeBytes });
  const dev = openRemappedDevice({ main, spares: [spare], opened, clock: new VirtualClock() });
  // Block-sized reads, 32 in flight: every block's read has its own 1 % chance to fail.
  const lanes = Array.from({ length: 32 }, async (_, lane) => {
    const buf = new Uint8Array(BS);
    for (let at = lane * BS; at < size; at += 32 * BS) await dev.read(at, buf);
  });
  await Promise.all(lanes);
  await dev.idle();
  const st = dev.status();
  console.log(
    `1 GiB read, 1 % transient errors: ${main.failures} failed main reads, ${st.retries.read} retries, ` +
      `${st.transient.recoveredKept} recovered reads kept on main, ${st.remappedBlocks} blocks migrated, ${st.pendingBlocks} pending`,
  );
  assert.ok(main.failures > 2000, `errors did happen (${main.failures})`);
  assert.equal(st.remappedBlocks, 0, "no spare burnt");
  assert.equal(st.pendingBlocks, 0);
  await dev.close();
});

test("promise 4: a weak block that keeps failing migrates; the reason and error count are listed", async () => {
  const rig = makeRig();
  await rig.dev.write(5 * BS, pattern(BS, 5));
  // First occasion: fails once, recovers; stays on main.
  rig.main.transientReads.set((5 * BS) / 512, 1);
  assert.deepEqual(await readBytes(rig.dev, 5 * BS, BS), Buffer.from(pattern(BS, 5)));
  await rig.dev.idle();
  assert.equal(rig.dev.status().remappedBlocks, 0);
  // Second occasion within the window: the error is real, the block moves.
  rig.main.transientReads.set((5 * BS) / 512, 2);
  assert.deepEqual(await readBytes(rig.dev, 5 * BS, BS), Buffer.from(pattern(BS, 5)));
  await rig.dev.idle();
  const [entry] = rig.dev.list().entries;
  assert.equal(entry?.block, 5);
  assert.equal(entry?.reason, "read-error");
  assert.match(entry?.detail ?? "", /failed on 2 occasions/);
  assert.equal(entry?.readErrors, 3);
  assert.deepEqual(await readBytes(rig.dev, 5 * BS, BS), Buffer.from(pattern(BS, 5)));
});

test("promise 4: a read that needs more than migrate_after_retries retries migrates at once", async () => {
  const rig = makeRig({ policy: { migrateAfterRetries: 2 } });
  await rig.dev.write(3 * BS, pattern(BS, 3));
  rig.main.transientReads.set((3 * BS) / 512, 3);
  assert.deepEqual(await readBytes(rig.dev, 3 * BS, BS), Buffer.from(pattern(BS, 3)));
  await rig.dev.idle();
  assert.match(rig.dev.list().entries[0]?.detail ?? "", /needed 3 retries/);
});

test("occasions outside the window are forgotten; the history is bounded", () => {
  const history = new ErrorHistory(3);
  history.record(1, 0, 1, 1000);
  assert.equal(history.record(1, 2000, 1, 1000).occasions.length, 1, "the first occasion left the window");
  history.record(2, 2100, 1, 1000);
  history.record(3, 2200, 1, 1000);
  history.record(4, 2300, 1, 1000);
  assert.equal(history.size, 3);
  assert.equal(history.get(1), undefined, "the least recently failed block is forgotten first");
  assert.throws(() => new ErrorHistory(0), /error history size 0/);
});
