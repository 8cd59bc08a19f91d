// Full-stack crash harness (promises 1, 5, 6, 9, 12, 13): a remapped device over crash devices with
// dust bad blocks runs a seeded workload; before every flush, FUA write and metadata write (and some
// data writes) crash images are built, reopened (crashing again during recovery) and checked against
// a byte oracle and the table history. DMREMAP_CRASH_STATES sets how many states to explore.
import { test } from "node:test";
import assert from "node:assert/strict";
import { MediumError, NoSpaceError } from "../block/errors.js";
import { Prng } from "../block/prng.js";
import type { JournalRecord, TableSnapshot } from "../metadata/metadata-store.js";
import { openSet } from "../metadata/open-set.js";
import { TableModel, canonical } from "../metadata/test-fixtures.js";
import { CrashRecorder } from "../testing/crash-device.js";
import {
  checkDataAfterCrash,
  checkPool,
  checkTable,
  crashDevices,
  crashDuringRecovery,
  createCrashStack,
  isMetadataWrite,
  remapOver,
  type CrashStackSpec,
  type TableExpectation,
} from "../testing/stack-crash.js";
import { TimeFaults } from "../testing/time-faults.js";
import { WriteOracle } from "../testing/write-oracle.js";
import { VirtualClock } from "./testing/virtual-clock.js";

const TARGET_STATES = Number(process.env.DMREMAP_CRASH_STATES ?? 10000);
const BS = 4096;
const MAIN_BLOCKS = 16;
const tally = {
  states: 0,
  recoveryCrashes: 0,
  continued: 0,
  operations: 0,
  remaps: 0,
  workloads: 0,
  slowWrites: 0,
  landedLate: 0,
  outageReads: 0,
  fenced: 0,
};

function specFor(rng: Prng, seed: number): CrashStackSpec {
  const bad = new Set<number>();
  while (bad.size < 3 + rng.nextInt(2)) bad.add(rng.nextInt(MAIN_BLOCKS));
  // 10 data slots between the head and tail metadata areas (docs/FORMAT.md).
  const spare = 152 * 1024;
  return {
    mainBytes: MAIN_BLOCKS * BS,
    spareBytes: seed % 2 === 0 ? [spare, spare] : [spare],
    blockSize: BS,
    journalBytes: 8192,
    badBlocks: [...bad].sort((a, b) => a - b),
  };
}

/** Reopen one crash image set, check it, and sometimes go on writing on the recovered device. */
async function checkCrashState(
  spec: CrashStackSpec,
  images: readonly Uint8Array[],
  e: TableExpectation,
  oracle: WriteOracle,
  rng: Prng,
): Promise<number> {
  tally.states++;
  const recovery = await crashDuringRecovery(
    spec,
    images,
    rng,
    rng.nextInt(3) === 0 ? 1 + rng.nextInt(2) : 0,
  );
  tally.recoveryCrashes += recovery.crashes;
  const recorder = new CrashRecorder();
  recorder.keepLog = false;
  const [main, ...spares] = crashDevices(spec, recorder, recovery.images);
  const opened = await openSet({ spares, main: main! });
  const state = checkTable(opened, e);
  assert.equal(state, recovery.state, "recovery is not idempotent: the repaired table differs");
  assert.ok(opened.store.generation >= recovery.generation, "repair lowered the generation");
  assert.ok(
    opened.store.copies().every((c) => c.state === "ok"),
    "a copy is not ok after repair",
  );
  const dev = remapOver(spec, main!, spares, opened);
  checkPool(dev, opened);
  await checkDataAfterCrash(dev, oracle);
  if (rng.nextInt(10) === 0) {
    // The recovered device keeps working: a write to a bad block gets a slot no one else holds.
    tally.continued++;
    const block = spec.badBlocks[rng.nextInt(spec.badBlocks.length)]!;
    const data = rng.fill(new Uint8Array(BS));
    await dev.write(block * BS, data);
    await dev.flush();
    const images2 = [main!, ...spares].map((d) => d.currentImage());
    const [main2, ...spares2] = crashDevices(spec, new CrashRecorder(), images2);
    const again = await openSet({ spares: spares2, main: main2! });
    checkTable(again, { states: [canonical(again.snapshot)], acked: 0, issued: 0, ackedGeneration: 0 });
    assert.ok(again.store.generation >= opened.store.generation, "generation went down");
    const dev2 = remapOver(spec, main2!, spares2, again);
    checkPool(dev2, again);
    const back = new Uint8Array(BS);
    await dev2.read(block * BS, back);
    assert.deepEqual(back, data, "a write after recovery did not survive a reopen");
  }
  return 1 + recovery.crashes;
}

/** A random range: a whole block, inside a block, across two blocks, or whole sectors. */
function randomRange(rng: Prng, block = rng.nextInt(MAIN_BLOCKS)): [number, number] {
  const kind = rng.nextInt(4);
  if (kind === 0) return [block * BS, BS];
  if (kind === 1 || block === MAIN_BLOCKS - 1) {
    const at = rng.nextInt(BS - 1);
    return [block * BS + at, 1 + rng.nextInt(BS - at)];
  }
  if (kind === 2) {
    const at = rng.nextInt(BS);
    return [block * BS + at, BS - at + 1 + rng.nextInt(BS)];
  }
  const sector = rng.nextInt(8);
  return [block * BS + sector * 512, 512 * (1 + rng.nextInt(8 - sector))];
}

async function runWorkload(seed: number, budget: number): Promise<number> {
  const rng = new Prng(seed);
  const crashRng = new Prng(seed * 7919 + 17);
  const recorder = new CrashRecorder();
  recorder.keepLog = false;
  const spec = specFor(rng, seed);
  let time!: TimeFaults;
  const { main, spares, opened, dev } = await createCrashStack(
    spec,
    recorder,
    (lower) => (time = new TimeFaults(lower, BS, new VirtualClock(seed))),
  );
  const devices = [main, ...spares];
  const store = opened.store;
  const oracle = new WriteOracle(
    spec.mainBytes,
    spec.badBlocks.map((b) => ({ offsetBytes: b * BS, lengthBytes: BS })),
  );
  const model = new TableModel();
  const states = [model.canonical()];
  let acked = 0;
  let ackedGeneration = store.generation;
  const append = store.append.bind(store);
  const checkpoint = store.checkpoint.bind(store);
  Object.assign(store, {
    append: async (records: readonly JournalRecord[]) => {
      model.apply(records);
      states.push(model.canonical());
      const index = states.length - 1;
      await append(records);
      acked = Math.max(acked, index);
      ackedGeneration = Math.max(ackedGeneration, store.generation);
    },
    checkpoint: async (snapshot: TableSnapshot) => {
      await checkpoint(snapshot);
      ackedGeneration = Math.max(ackedGeneration, store.generation);
    },
  });

  let explored = 0;
  let exploring: Promise<void> | undefined;
  // A failed check must not look like a device error to the product (it would be absorbed).
  let failure: unknown;
  const explore = async (key: boolean) => {
    const e: TableExpectation = { states, acked, issued: states.length - 1, ackedGeneration };
    const frozen = oracle.clone();
    const variants = key ? [devices.map((d) => d.durableImage()), devices.map((d) => d.currentImage())] : [];
    for (let v = 0; v < (key ? 2 : 1); v++)
      variants.push(devices.map((d) => d.crash(crashRng, { tornProbability: 0.4 })));
    for (const images of variants) explored += await checkCrashState(spec, images, e, frozen, crashRng);
  };
  recorder.hook = async (op) => {
    while (exploring) await exploring;
    if (explored >= budget || failure) return;
    const key = op.op === "flush" || op.fua || isMetadataWrite(op, store.identity);
    if (!key && crashRng.nextInt(3) !== 0) return;
    exploring = explore(key).catch((err: unknown) => {
      failure ??= err;
    });
    try {
      await exploring;
    } finally {
      exploring = undefined;
    }
  };

  const write = async (offsetBytes: number, data: Uint8Array, fua: boolean, zero = false) => {
    const w = oracle.begin(offsetBytes, data);
    if (zero) await dev.writeZeroes(offsetBytes, data.length);
    else await dev.write(offsetBytes, data, { fua });
    oracle.ack(w, fua);
  };
  const flush = async () => {
    const token = oracle.beginFlush();
    await dev.flush();
    oracle.ackFlush(token);
  };
  const read = async ([offsetBytes, lengthBytes]: [number, number]) => {
    const got = new Uint8Array(lengthBytes);
    try {
      await dev.read(offsetBytes, got);
    } catch (err) {
      if (!(err instanceof MediumError)) throw err;
      assert.ok(oracle.mayFailLive(offsetBytes, lengthBytes), `live read failed: ${err.message}`);
      return;
    }
    const problem = oracle.checkLive(offsetBytes, got);
    assert.equal(problem, undefined, problem);
  };
  const randomWrite = (range: [number, number]) =>
    write(range[0], rng.fill(new Uint8Array(range[1])), rng.nextInt(5) === 0);

  /** A main write that outlives its budget (slow block), or a read during a main outage window. */
  const timeFault = async (slow: boolean) => {
    if (!slow) {
      time.outage(150);
      await read([0, spec.mainBytes]);
      time.outageUntilMs = -1;
      return;
    }
    const block = rng.nextInt(MAIN_BLOCKS);
    time.slowBlocks.add(block);
    let done = false;
    const w = randomWrite(randomRange(rng, block))
      .catch((err: unknown) => {
        // Out of spare slots: the write fails unacknowledged (the oracle allows either content).
        if (!(err instanceof NoSpaceError)) throw err;
      })
      .finally(() => (done = true));
    while (!done && time.heldWrites === 0) await new Promise<void>((resolve) => setImmediate(resolve));
    if (!done) time.clock.advance(100);
    await w;
    time.slowBlocks.delete(block);
  };

  let manual = 0;
  for (let step = 0; step < 40 && explored < budget && !failure; step++) {
    const kind = rng.nextInt(20);
    if (kind < 8) await randomWrite(randomRange(rng));
    else if (kind < 11) await flush();
    else if (kind < 14) await read(randomRange(rng));
    else if (kind < 16) {
      // Requests on distinct blocks in flight together (and sometimes a flush among them).
      const blocks = new Set<number>();
      while (blocks.size < 2 + rng.nextInt(2)) blocks.add(rng.nextInt(MAIN_BLOCKS - 1));
      const ops = [...blocks].map((b) =>
        rng.nextInt(3) === 0 ? read([b * BS, BS]) : randomWrite([b * BS + rng.nextInt(BS / 2), BS / 2]),
      );
      if (rng.nextInt(3) === 0) ops.push(flush());
      await Promise.all(ops);
    } else if (kind === 16) {
      const [at, n] = randomRange(rng);
      await write(at, new Uint8Array(n), false, true);
    } else if (kind === 17) {
      // TRIM: the crash devices cannot trim, so the layer passes it as a no-op; data must stay.
      const [at, n] = randomRange(rng);
      await dev.trim(at, n);
    } else if (kind === 18 && manual < 2) {
      manual++;
      await dev.remapBlock(rng.nextInt(MAIN_BLOCKS));
    } else if (kind === 19) await timeFault(rng.nextInt(2) === 0);
    else await read([0, spec.mainBytes]);
    // Writes held on a slow block land on main at some later point, long after their answer.
    if (time.heldWrites > 0 && rng.nextInt(4) === 0) await time.land();
  }
  await time.land();
  tally.slowWrites += time.counts.slowWrites;
  tally.landedLate += time.counts.landedLate;
  tally.outageReads += time.counts.outageReads;
  tally.fenced += dev.status().fence.abandonedWrites;
  if (!failure) {
    const token = oracle.beginFlush();
    await dev.close();
    oracle.ackFlush(token);
  }
  recorder.hook = undefined;
  if (failure) throw failure;
  tally.operations += recorder.seq;
  tally.remaps += dev.status().remappedBlocks;
  // A clean shutdown: every acknowledged write and commit is there, exactly.
  const [main2, ...spares2] = crashDevices(
    spec,
    new CrashRecorder(),
    devices.map((d) => d.currentImage()),
  );
  const reopened = await openSet({ spares: spares2, main: main2! });
  assert.equal(canonical(reopened.snapshot), states[states.length - 1], "a clean reopen shows every commit");
  assert.equal(oracle.volatileWrites.length, 0, "every write was acknowledged and flushed");
  await checkDataAfterCrash(remapOver(spec, main2!, spares2, reopened), oracle);
  return explored;
}

test("full stack: flushed writes, remaps and the table survive any crash; recovery is idempotent", async (t) => {
  let explored = 0;
  for (let seed = 1; explored < TARGET_STATES; seed++) {
    explored += await runWorkload(seed, TARGET_STATES - explored);
    tally.workloads++;
  }
  t.diagnostic(
    `crash states explored: ${explored} (${tally.states} from the workloads, ${tally.recoveryCrashes} during recovery, ${tally.continued} continued after recovery) in ${tally.workloads} workloads of ${tally.operations} device operations, ${tally.remaps} remapped blocks at the end`,
  );
  t.diagnostic(
    `time-domain faults: ${tally.slowWrites} slow main writes (${tally.fenced} abandoned and fenced, ${tally.landedLate} landed late), ${tally.outageReads} main reads failed in outage windows`,
  );
  assert.ok(explored >= TARGET_STATES);
  assert.ok(
    tally.remaps > 0 && tally.recoveryCrashes > 0,
    "the workloads remapped blocks and crashed recovery",
  );
  assert.ok(tally.fenced > 0 && tally.landedLate > 0 && tally.outageReads > 0, "time-domain faults happened");
});
