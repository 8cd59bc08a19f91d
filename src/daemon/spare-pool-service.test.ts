// The spare-pool service: a spare quarantined after a failed slot write is drained automatically
// when auto_drain_quarantined is on (once), not when it is off, and every drain is logged; a drain
// recorded in the set's metadata resumes when the set is served again.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readBytes } from "../block/base-device.js";
import type { WriteOptions } from "../block/block-device.js";
import { MediumError } from "../block/errors.js";
import { MemoryDevice } from "../block/memory-device.js";
import { createSet } from "../metadata/create-set.js";
import { openSet } from "../metadata/open-set.js";
import type { SpareStore } from "../metadata/spare-store.js";
import { resolveRemapPolicy } from "../remap/remap-policy.js";
import { openRemappedDevice } from "../remap/remapped-device.js";
import { KeepOpenDevice, pattern } from "../remap/testing/rig.js";
import { blocksOnSpare } from "../spares/drain.js";
import { createLogger } from "./logger.js";
import type { TargetServiceContext } from "./services.js";
import { SparePoolService } from "./spare-pool-service.js";
import { drainJobs, registerSpareTarget } from "./spare-routes.js";
import type { AssembledTarget } from "./stack.js";
import type { ControlTarget } from "./target.js";

const BS = 4096;
const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(b);

/** A spare whose slot writes (past `fromBytes`) fail once armed: its metadata stays writable. */
class FailingSlots extends KeepOpenDevice {
  armed = false;
  fromBytes = Infinity;
  protected override _write(offsetBytes: number, data: Uint8Array, options: WriteOptions): Promise<void> {
    if (this.armed && offsetBytes >= this.fromBytes && offsetBytes < this.sizeBytes - (1 << 20))
      return Promise.reject(new MediumError("spare0", "write", offsetBytes, data.length));
    return super._write(offsetBytes, data, options);
  }
}

async function quarantinedSet(autoDrainQuarantined: boolean) {
  const media = [1 << 20, 4 << 20, 4 << 20].map((sizeBytes) => new MemoryDevice({ sizeBytes }));
  const failing = new FailingSlots(media[1]!);
  const spares = [failing, new KeepOpenDevice(media[2]!)];
  const main = new KeepOpenDevice(media[0]!);
  const opened = await createSet({ main, spares, blockSize: BS, name: "q", journalBytes: 16384 });
  const policy = resolveRemapPolicy({ autoDrainQuarantined });
  const device = openRemappedDevice({ main, spares, opened, policy });
  for (let b = 0; b < 32; b++) await device.write(b * BS, pattern(BS, b));
  for (let b = 0; b < 10; b++) await device.remapBlock(b);
  failing.fromBytes = device.setIdentity.spares[0]!.dataOffsetBytes;
  failing.armed = true;
  // The next slot would be on spare 0: its write fails, the slot and the spare are quarantined.
  await device.remapBlock(20);
  assert.equal(device.spareIndexOf(20), 1);
  const lines: string[] = [];
  const logger = createLogger({ stream: { write: (line: string) => lines.push(line) } });
  const target = { name: "q" } as unknown as ControlTarget;
  const stack = { device } as unknown as AssembledTarget;
  registerSpareTarget(target, stack);
  const ctx = { target, stack, logger } as unknown as TargetServiceContext;
  return { device, service: new SparePoolService(ctx), target, lines };
}

test("a quarantined spare holding slots is drained automatically, once, and the drain is logged", async () => {
  const { device, service, target, lines } = await quarantinedSet(true);
  assert.equal(blocksOnSpare(device, 0).length, 10);
  service.tick();
  const job = drainJobs(target).get(0);
  assert.ok(job, "a drain of spare 0 started");
  await job.settled();
  assert.equal(job.progress().state, "done");
  assert.deepEqual(blocksOnSpare(device, 0), []);
  for (let b = 0; b < 32; b++)
    assert.ok(same(await readBytes(device, b * BS, BS), pattern(BS, b)), `block ${b}`);
  service.tick();
  assert.equal(drainJobs(target).get(0), job, "not started again");
  const text = lines.join("");
  assert.match(text, /draining it automatically/);
  assert.match(text, /spare drain started/);
  assert.match(text, /spare drain done/);
  await device.close();
});

test("with auto_drain_quarantined = false a quarantined spare keeps its slots", async () => {
  const { device, service, target } = await quarantinedSet(false);
  service.tick();
  assert.equal(drainJobs(target).get(0), undefined);
  assert.equal(blocksOnSpare(device, 0).length, 10);
  await device.close();
});

test("a drain recorded in the metadata resumes when the set is served again", async () => {
  const media = [1 << 20, 4 << 20, 4 << 20].map((sizeBytes) => new MemoryDevice({ sizeBytes }));
  const [main, ...spares] = media.map((m) => new KeepOpenDevice(m));
  const opened = await createSet({ main: main!, spares, blockSize: BS, name: "r", journalBytes: 16384 });
  const first = openRemappedDevice({ main: main!, spares, opened });
  for (let b = 0; b < 32; b++) await first.write(b * BS, pattern(BS, b));
  for (let b = 0; b < 10; b++) await first.remapBlock(b);
  // As a crash right after the drain was recorded leaves it: recorded, nothing moved yet.
  await (first.metadataStore as SpareStore).commitDraining([0]);
  await first.close();

  const [main2, ...spares2] = media.map((m) => new KeepOpenDevice(m));
  const device = openRemappedDevice({
    main: main2!,
    spares: spares2,
    opened: await openSet({ spares: spares2, main: main2! }),
  });
  assert.deepEqual(device.metadataStore.drainingSpares, [0]);
  assert.ok(device.isSpareAvoided(0), "new slots keep off the recorded spare");
  const target = { name: "r" } as unknown as ControlTarget;
  registerSpareTarget(target, { device } as unknown as AssembledTarget);
  const job = drainJobs(target).get(0);
  assert.ok(job, "the drain resumed");
  await job.settled();
  assert.equal(job.progress().done, 10);
  assert.deepEqual(blocksOnSpare(device, 0), []);
  for (let b = 0; b < 32; b++)
    assert.ok(same(await readBytes(device, b * BS, BS), pattern(BS, b)), `block ${b}`);
  await device.close();
});
