// Full-stack crash fixtures: a remapped device over CrashDevices (main behind a dust fault layer),
// reopening it from crash images (crashing again during recovery), and the checks of the remap
// table and of every byte against a WriteOracle after a crash.
import assert from "node:assert/strict";
import type { BlockDevice } from "../block/block-device.js";
import { FaultDevice } from "../block/fault-device.js";
import { MediumError } from "../block/errors.js";
import type { Prng } from "../block/prng.js";
import { createSet } from "../metadata/create-set.js";
import type { OpenedSet, SetIdentity } from "../metadata/metadata-store.js";
import { openSet } from "../metadata/open-set.js";
import { canonical } from "../metadata/test-fixtures.js";
import { openRemappedDevice, type RemappedDevice } from "../remap/remapped-device.js";
import type { RemapPolicy } from "../remap/remap-policy.js";
import { VirtualClock } from "../remap/testing/virtual-clock.js";
import { TimeFaults } from "./time-faults.js";
import { CrashDevice, CrashRecorder, type CrashOperation } from "./crash-device.js";
import type { WriteOracle } from "./write-oracle.js";

/** Shape of a crash-test stack. */
export interface CrashStackSpec {
  readonly mainBytes: number;
  readonly spareBytes: readonly number[];
  readonly blockSize: number;
  readonly journalBytes: number;
  /** Blocks of main (in blockSize units) that fail every read and write (dust, no heal). */
  readonly badBlocks: readonly number[];
}

/** Remap policy of crash stacks: few retries, and a time budget no pause of the harness exhausts. */
export const CRASH_POLICY: Partial<RemapPolicy> = {
  writeRetries: 1,
  readRetries: 1,
  readRetryBudgetMs: 25000,
};

/** A remapped device over crash devices that share one recorder. */
export interface CrashStack {
  readonly main: CrashDevice;
  readonly spares: readonly CrashDevice[];
  readonly opened: OpenedSet;
  readonly dev: RemappedDevice;
}

/** Crash devices (main first, then spares) holding `images`, or blank when images is undefined. */
export function crashDevices(
  spec: CrashStackSpec,
  recorder: CrashRecorder,
  images?: readonly Uint8Array[],
): CrashDevice[] {
  const sizes = [spec.mainBytes, ...spec.spareBytes];
  return sizes.map(
    (sizeBytes, i) =>
      new CrashDevice({
        sizeBytes,
        recorder,
        name: i === 0 ? "main" : `spare${i - 1}`,
        ...(images ? { image: images[i]! } : {}),
      }),
  );
}

/** Put the dust layer of `spec` over main and build the remapped device. */
export function remapOver(
  spec: CrashStackSpec,
  main: CrashDevice,
  spares: readonly CrashDevice[],
  opened: OpenedSet,
  withTimeFaults?: (lower: BlockDevice) => TimeFaults,
) {
  const faulty = new FaultDevice(main, {
    rules: [{ kind: "dust", blockSize: spec.blockSize, blocks: spec.badBlocks, heal: false }],
  });
  if (!withTimeFaults) {
    return openRemappedDevice({
      main: faulty,
      spares,
      opened,
      policy: CRASH_POLICY,
      clock: new VirtualClock(),
    });
  }
  // Time-domain faults sit between dust and the remap layer, on the remap layer's virtual clock.
  const timed = withTimeFaults(faulty);
  return openRemappedDevice({ main: timed, spares, opened, policy: TIMED_POLICY, clock: timed.clock });
}

/** Policy of stacks with time-domain faults: main writes are abandoned after 100 ms (virtual). */
export const TIMED_POLICY: Partial<RemapPolicy> = { ...CRASH_POLICY, mainWriteTimeoutMs: 100 };

/** Create a fresh set on blank crash devices (the creation itself is made durable). */
export async function createCrashStack(
  spec: CrashStackSpec,
  recorder: CrashRecorder,
  withTimeFaults?: (lower: BlockDevice) => TimeFaults,
): Promise<CrashStack> {
  const [main, ...spares] = crashDevices(spec, recorder);
  const opened = await createSet({
    main: main!,
    spares,
    blockSize: spec.blockSize,
    name: "crash",
    journalBytes: spec.journalBytes,
  });
  return { main: main!, spares, opened, dev: remapOver(spec, main!, spares, opened, withTimeFaults) };
}

/** True for a write into a spare's metadata areas (head or tail: superblocks, checkpoints, journal). */
export function isMetadataWrite(op: CrashOperation, identity: SetIdentity): boolean {
  if (op.op !== "write" || !op.device.startsWith("spare")) return false;
  const spare = identity.spares[Number(op.device.slice(5))];
  if (spare === undefined) return false;
  const slotsEnd = spare.dataOffsetBytes + spare.slotCount * identity.blockSize;
  return op.offsetBytes < spare.dataOffsetBytes || op.offsetBytes >= slotsEnd;
}

/** What the table oracle allows at one crash point. */
export interface TableExpectation {
  /** Canonical table after each committed append, in commit order (index 0: the empty table). */
  readonly states: readonly string[];
  /** The recovered table is states[i] with acked <= i <= issued. */
  readonly acked: number;
  readonly issued: number;
  readonly ackedGeneration: number;
}

/** Promise 6 and 9: the table is a prefix state holding every acknowledged change; slots are unique. */
export function checkTable(opened: OpenedSet, e: TableExpectation): string {
  const state = canonical(opened.snapshot);
  const allowed = e.states.slice(e.acked, e.issued + 1);
  assert.ok(allowed.includes(state), `mixed or stale table (acked ${e.acked}, issued ${e.issued}): ${state}`);
  const total = opened.store.identity.spares.reduce((n, s) => n + s.slotCount, 0);
  const slots = [...opened.snapshot.slots];
  assert.equal(new Set(slots).size, slots.length, `a slot is allocated twice: ${state}`);
  assert.ok(
    slots.every((s) => s < total),
    `a slot outside the pool of ${total}: ${state}`,
  );
  assert.ok(opened.store.generation >= e.ackedGeneration, "generation went below an acknowledged one");
  return state;
}

/**
 * Recovery under crashes: open `images` (no repair) for the reference state, then up to `depth` times
 * run a repairing open that crashes at a random device operation and open what it left; each must
 * show the same table with a generation that never goes down. Returns the last images and the count.
 */
export async function crashDuringRecovery(
  spec: CrashStackSpec,
  images: readonly Uint8Array[],
  rng: Prng,
  depth: number,
): Promise<{ images: readonly Uint8Array[]; crashes: number; state: string; generation: number }> {
  const first = await openSet({
    spares: crashDevices(spec, new CrashRecorder(), images).slice(1),
    repair: false,
  });
  const state = canonical(first.snapshot);
  let generation = first.store.generation;
  let current = images;
  let crashes = 0;
  for (let d = 0; d < depth; d++) {
    const recorder = new CrashRecorder();
    recorder.keepLog = false;
    const devices = crashDevices(spec, recorder, current);
    const stopAt = 1 + rng.nextInt(4);
    let crashed: Uint8Array[] | undefined;
    const hang = new Promise<void>(() => {});
    const crash = new Promise<void>((resolve) => {
      recorder.hook = () => {
        if (crashed) return hang;
        if (recorder.seq < stopAt) return undefined;
        crashed = devices.map((dev) => dev.crash(rng, { tornProbability: 0.4 }));
        resolve();
        return hang;
      };
    });
    await Promise.race([openSet({ spares: devices.slice(1) }), crash]);
    if (!crashed) break;
    crashes++;
    const mid = await openSet({
      spares: crashDevices(spec, new CrashRecorder(), crashed).slice(1),
      repair: false,
    });
    assert.equal(canonical(mid.snapshot), state, "a crash during recovery changed the recovered table");
    assert.ok(mid.store.generation >= generation, "a crash during recovery lowered the generation");
    generation = mid.store.generation;
    current = crashed;
  }
  return { images: current, crashes, state, generation };
}

/**
 * Promises 1 and 5 after a crash: read every block (sector by sector where a block fails); data must
 * be a candidate of the oracle, and an error is allowed only where the data is legitimately unknown.
 */
export async function checkDataAfterCrash(dev: RemappedDevice, oracle: WriteOracle): Promise<void> {
  const bs = dev.blockSize;
  for (let at = 0; at < dev.sizeBytes; at += bs) {
    const n = Math.min(bs, dev.sizeBytes - at);
    const block = new Uint8Array(n);
    try {
      await dev.read(at, block);
      const problem = oracle.checkAfterCrash(at, block);
      assert.equal(problem, undefined, problem);
      continue;
    } catch (err) {
      if (!(err instanceof MediumError)) throw err;
    }
    for (let s = at; s < at + n; s += 512) {
      const sector = new Uint8Array(Math.min(512, at + n - s));
      try {
        await dev.read(s, sector);
      } catch (err) {
        if (!(err instanceof MediumError)) throw err;
        assert.ok(
          oracle.mayFailAfterCrash(s, sector.length),
          `sector at byte ${s} fails after the crash but holds flushed data: ${err.message}`,
        );
        continue;
      }
      const problem = oracle.checkAfterCrash(s, sector);
      assert.equal(problem, undefined, problem);
    }
  }
}

/** Promise 9 on a live device: used + free = total and the used slots are exactly the table's. */
export function checkPool(dev: RemappedDevice, opened: OpenedSet): void {
  const st = dev.status();
  const total = opened.store.identity.spares.reduce((n, s) => n + s.slotCount, 0);
  assert.equal(st.spare.usedBlocks + st.spare.freeBlocks, total, "used + free != total");
  assert.equal(st.spare.usedBlocks, opened.snapshot.slots.length, "pool usage differs from the table");
}
