// Crash harness for the metadata alone (promises 6 and 13): spares are CrashDevices with volatile
// caches; at every write and flush of a random workload we build crash images (nothing kept,
// everything kept, random subsets with torn sectors), reopen them, crash again during recovery,
// and check the result against an oracle. Midway, some workloads grow bad sectors (dust) under a
// checkpoint slot or a journal sector of one spare, so relocations happen at crash points too.
// DMREMAP_CRASH_STATES sets how many states to explore.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { BlockDevice } from "../block/block-device.js";
import { FaultDevice } from "../block/fault-device.js";
import { MemoryDevice } from "../block/memory-device.js";
import { Prng } from "../block/prng.js";
import { CrashDevice, CrashRecorder } from "../testing/crash-device.js";
import { createSet } from "./create-set.js";
import { type End, endGeometry } from "./layout.js";
import type { SpareStore } from "./spare-store.js";
import { openSet } from "./open-set.js";
import { TableModel, canonical } from "./test-fixtures.js";
import { emptySnapshot } from "./table-state.js";

/** Counts for the diagnostic line. */
const tally = { states: 0, recoveryCrashes: 0, degraded: 0, operations: 0, relocations: 0, badStates: 0 };
const TARGET_STATES = Number(process.env.DMREMAP_CRASH_STATES ?? 5000);
const SPARE_BYTES = 131072;
const MAIN_BLOCKS = 64;

/** What the oracle allows at one crash point. */
interface Expectation {
  readonly states: readonly string[];
  /** Index in `states` of the newest acknowledged append; the recovered state is at or after it. */
  readonly acked: number;
  readonly issued: number;
  readonly ackedGeneration: number;
  readonly ackedCounter: number;
  readonly issuedCounter: number;
}

/** Bad sectors (byte offsets) of each spare of the running workload; crash images keep them. */
let badSectors: number[][] = [];

/** `device` behind a dust layer failing the bad sectors of spare `i` (unchanged when it has none). */
function withBad(device: CrashDevice, i: number): BlockDevice {
  const blocks = (badSectors[i] ?? []).map((at) => at / 512);
  if (blocks.length === 0) return device;
  return new FaultDevice(device, { rules: [{ kind: "dust", blockSize: 512, blocks }] });
}

const devicesFrom = (images: readonly Uint8Array[], rng: Prng) => {
  const devices = images.map((image, i) =>
    withBad(new CrashDevice({ sizeBytes: SPARE_BYTES, image, name: `spare${i}` }), i),
  );
  return rng.nextInt(2) === 0 ? devices : devices.reverse();
};

/** Open a crash image set, crash during recovery up to 3 times, then check against the oracle. */
async function checkCrashState(images: Uint8Array[], e: Expectation, rng: Prng): Promise<number> {
  let explored = 1;
  tally.states++;
  if (badSectors.some((b) => b.length > 0)) tally.badStates++;
  const first = await openSet({ spares: devicesFrom(images, rng), repair: false });
  const state = canonical(first.snapshot);
  const where = `acked ${e.acked} issued ${e.issued}`;
  assert.ok(
    e.states.slice(e.acked, e.issued + 1).includes(state),
    `recovered table is not a prefix state (${where}): ${state}`,
  );
  const generation = first.store.generation;
  assert.ok(generation >= e.ackedGeneration, `generation ${generation} < acknowledged ${e.ackedGeneration}`);
  const counter = first.snapshot.counters.step ?? -1;
  assert.ok(counter >= e.ackedCounter && counter <= e.issuedCounter, `counters step ${counter} (${where})`);

  if (images.length > 1 && rng.nextInt(4) === 0) {
    // Serve degraded without one copy, then bring it back: the state served must win.
    const devices = devicesFrom(images, rng);
    const drop = rng.nextInt(devices.length);
    const present = devices.filter((_, i) => i !== drop);
    const repair = rng.nextInt(2) === 0;
    const degraded = await openSet({ spares: present, repair });
    assert.ok(
      e.states.slice(e.acked, e.issued + 1).includes(canonical(degraded.snapshot)),
      `degraded open is not a prefix state (${where})`,
    );
    // Without repair nothing is written at open; the first append then carries the generation gap.
    if (!repair) await degraded.store.append([{ type: "pending", block: MAIN_BLOCKS - 2 }]);
    await degraded.store.close();
    const served = canonical((await openSet({ spares: present, repair: false })).snapshot);
    const back = await openSet({ spares: devices });
    assert.equal(
      canonical(back.snapshot),
      served,
      "a returning copy overrode the state served while it was missing",
    );
    assert.deepEqual(
      back.store.copies().map((c) => c.state),
      devices.map(() => "ok"),
    );
    tally.degraded++;
  }

  let current = images;
  for (let depth = 0; depth < 3; depth++) {
    const recorder = new CrashRecorder();
    recorder.keepLog = false;
    const raw = current.map(
      (image, i) => new CrashDevice({ sizeBytes: SPARE_BYTES, image, name: `spare${i}`, recorder }),
    );
    const devices = raw.map((d, i) => withBad(d, i));
    const stopAt = 1 + rng.nextInt(12);
    let crashed: Uint8Array[] | undefined;
    const crash = new Promise<void>((resolve) => {
      recorder.hook = () => {
        if (recorder.seq < stopAt || crashed) return crashed ? new Promise<void>(() => {}) : undefined;
        crashed = raw.map((d) => d.crash(rng, { tornProbability: 0.4 }));
        resolve();
        return new Promise<void>(() => {});
      };
    });
    await Promise.race([openSet({ spares: devices }).then((o) => o.store.close()), crash]);
    if (!crashed) break;
    explored++;
    tally.recoveryCrashes++;
    const mid = await openSet({ spares: devicesFrom(crashed, rng), repair: false });
    assert.equal(canonical(mid.snapshot), state, "a crash during recovery changed the recovered table");
    assert.ok(mid.store.generation >= generation, "a crash during recovery lowered the generation");
    current = crashed;
  }
  const finalDevices = devicesFrom(current, rng);
  const final = await openSet({ spares: finalDevices });
  assert.equal(canonical(final.snapshot), state, "recovery is not idempotent");
  assert.ok(final.store.generation >= generation);
  assert.deepEqual(
    final.store.copies().map((c) => c.state),
    current.map(() => "ok"),
  );
  if (rng.nextInt(8) === 0) {
    // The recovered set keeps working: a new append is durable and lands on top of the state.
    await final.store.append([{ type: "pending", block: MAIN_BLOCKS - 1 }]);
    await final.store.close();
    const after = await openSet({ spares: finalDevices, repair: false });
    const [remap, pending, lost] = canonical(after.snapshot).split("|");
    const [remap0, pending0, lost0] = state.split("|");
    assert.equal(remap, remap0);
    assert.equal(lost, lost0);
    assert.deepEqual(
      new Set(pending!.split(",")),
      new Set([...pending0!.split(","), String(MAIN_BLOCKS - 1)].filter(Boolean)),
    );
    assert.equal(after.store.generation, final.store.generation);
  }
  await final.store.close();
  return explored;
}

async function runWorkload(seed: number, budget: number): Promise<number> {
  const rng = new Prng(seed);
  const crashRng = new Prng(seed * 7919 + 17);
  const recorder = new CrashRecorder();
  recorder.keepLog = false;
  // One, two or three spares (with one, its two ends are the only copies).
  const spareCount = 1 + (seed % 3);
  badSectors = Array.from({ length: spareCount }, () => []);
  const spares = Array.from(
    { length: spareCount },
    (_, i) => new CrashDevice({ sizeBytes: SPARE_BYTES, name: `spare${i}`, recorder }),
  );
  // The live store sees the bad sectors through its own fault layers (rules added midway).
  const faults = spares.map(
    (d) => new FaultDevice(d, { rules: [{ kind: "dust", blockSize: 512, blocks: [] }] }),
  );
  const main = new MemoryDevice({ sizeBytes: MAIN_BLOCKS * 512 });
  const { store } = await createSet({
    main,
    spares: faults,
    blockSize: 512,
    name: "crash",
    journalBytes: 8192,
  });
  // Where sectors go bad midway: nowhere, a checkpoint slot, a journal sector.
  const badAt = Math.floor(seed / 3) % 3;
  const end: End = rng.nextInt(2) === 0 ? "head" : "tail";
  const growBad = () => {
    const g = endGeometry((store as SpareStore).layout, end, SPARE_BYTES);
    const at = badAt === 1 ? g.slot : g.journal + 512 * rng.nextInt(4);
    badSectors[0]!.push(at);
    faults[0]!.addBadBlock(at / 512);
  };
  const slotCount = store.identity.spares.reduce((n, s) => n + s.slotCount, 0);
  const model = new TableModel();
  const states = [model.canonical()];
  let acked = 0;
  let ackedGeneration = store.generation;
  let ackedCounter = -1;
  let issuedCounter = -1;
  let explored = 0;

  const explore = async () => {
    const e: Expectation = {
      states: [...states],
      acked,
      issued: states.length - 1,
      ackedGeneration,
      ackedCounter,
      issuedCounter,
    };
    const variants = [spares.map((d) => d.durableImage()), spares.map((d) => d.currentImage())];
    for (let v = 0; v < 3; v++) variants.push(spares.map((d) => d.crash(crashRng, { tornProbability: 0.4 })));
    for (const images of variants) explored += await checkCrashState(images, e, crashRng);
  };
  let exploring: Promise<void> | undefined;
  // A failed check must not look like a device error to the store (it would just fail one copy).
  let failure: unknown;
  recorder.hook = async () => {
    while (exploring) await exploring;
    if (explored >= budget || failure) return;
    exploring = explore().catch((err: unknown) => {
      failure ??= err;
    });
    try {
      await exploring;
    } finally {
      exploring = undefined;
    }
  };

  const append = async (n: number) => {
    const records = model.randomRecords(rng, n, MAIN_BLOCKS, slotCount);
    model.apply(records);
    states.push(model.canonical());
    const index = states.length - 1;
    await store.append(records);
    acked = Math.max(acked, index);
    ackedGeneration = Math.max(ackedGeneration, store.generation);
  };
  for (let step = 0; step < 24 && explored < budget && !failure; step++) {
    if (step === 8 && badAt > 0) growBad();
    const kind = rng.nextInt(20);
    if (kind < 10) await append(1 + rng.nextInt(3));
    else if (kind < 15)
      await Promise.all(Array.from({ length: 2 + rng.nextInt(3) }, () => append(1 + rng.nextInt(4))));
    else if (kind < 17 && rng.nextInt(2) === 0) {
      issuedCounter = step;
      await store.checkpoint({ ...emptySnapshot(), counters: { step } });
      ackedCounter = step;
    } else if (kind < 19) await append(20 + rng.nextInt(20));
    else await append(130);
  }
  recorder.hook = undefined;
  if (failure) throw failure;
  assert.deepEqual(
    store.copies().map((c) => c.state),
    spares.map(() => "ok"),
    "no copy failed during the workload",
  );
  tally.operations += recorder.seq;
  tally.relocations += (store as SpareStore).stats.relocations;
  await store.close();
  const reopened = await openSet({
    spares: spares.map((d, i) =>
      withBad(new CrashDevice({ sizeBytes: SPARE_BYTES, image: d.currentImage(), name: `spare${i}` }), i),
    ),
  });
  assert.equal(canonical(reopened.snapshot), states[states.length - 1], "a clean reopen shows every append");
  return explored;
}

test("metadata commits are all-or-nothing and recovery is idempotent under crashes", async (t) => {
  let explored = 0;
  let workloads = 0;
  for (let seed = 1; explored < TARGET_STATES; seed++) {
    // A bounded share per workload, so every shape (spare count, where sectors go bad) is reached.
    explored += await runWorkload(seed, Math.min(TARGET_STATES - explored, Math.ceil(TARGET_STATES / 8)));
    workloads++;
  }
  t.diagnostic(
    `crash states explored: ${explored} (${tally.states} after the workload, ${tally.recoveryCrashes} during recovery, ${tally.degraded} degraded reopens, ${tally.badStates} with bad sectors) in ${workloads} workloads of ${tally.operations} device operations, ${tally.relocations} relocations`,
  );
  assert.ok(explored >= TARGET_STATES);
});
