// FileDevice on the I/O worker engine (io-worker.ts): the block contract on a disk file and on tmpfs,
// order (a flush covers earlier writes, large ones included), errors, a queue deeper than the slots.
import assert from "node:assert/strict";
import { closeSync, ftruncateSync, openSync, readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { readBytes } from "./base-device.js";
import { runBlockDeviceContract, type ContractSubject } from "./contract.js";
import { MediumError, SpecError } from "./errors.js";
import { FileDevice } from "./file-device.js";
import { ioEngineFromEnv, ioWorkerCountFromEnv } from "./io-engine.js";
import { IoWorker } from "./io-worker.js";
import { Prng } from "./prng.js";

const MiB = 1 << 20;
const SHM = "/dev/shm";

async function workerDevice(root: string): Promise<ContractSubject> {
  const dir = await mkdtemp(join(root, "dmremap-ioworker-"));
  const device = await FileDevice.create(join(dir, "dev.img"), MiB, { ioEngine: "worker" });
  assert.equal(device.status()["ioEngine"], "worker");
  return { device, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

runBlockDeviceContract("FileDevice, worker engine, disk file", () => workerDevice(tmpdir()));
runBlockDeviceContract("FileDevice, worker engine, tmpfs file", () => workerDevice(SHM));

describe("FileDevice on the worker engine", () => {
  let dir = "";
  before(async () => {
    dir = await mkdtemp(join(SHM, "dmremap-ioworker-"));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("is used only when chosen: 'auto' (the default) and 'loop' keep the event loop / threadpool", async () => {
    const auto = await FileDevice.create(join(dir, "auto.img"), MiB);
    const loop = await FileDevice.create(join(dir, "loop.img"), MiB, { ioEngine: "loop" });
    const worker = await FileDevice.create(join(dir, "worker.img"), MiB, { ioEngine: "worker" });
    try {
      assert.equal(auto.status()["ioEngine"], "loop");
      assert.equal(loop.status()["ioEngine"], "loop");
      assert.equal(worker.status()["ioEngine"], "worker");
    } finally {
      await Promise.all([auto.close(), loop.close(), worker.close()]);
    }
  });

  it("keeps 300 concurrent seeded writes of mixed sizes (more than the slots, some larger than a slot)", async () => {
    const path = join(dir, "many.img");
    const device = await FileDevice.create(path, 4 * MiB, { ioEngine: "worker" });
    const prng = new Prng(16);
    const expected = Buffer.alloc(4 * MiB);
    const writes: Promise<void>[] = [];
    for (let i = 0; i < 300; i++) {
      // Disjoint pieces, so the final image does not depend on completion order.
      const data = Buffer.alloc(4096 * (1 + (i % 2)));
      prng.fill(data);
      data.copy(expected, i * 8192);
      writes.push(device.write(i * 8192, data));
    }
    const big = Buffer.alloc(256 * 1024);
    prng.fill(big);
    big.copy(expected, 3.5 * MiB);
    writes.push(device.write(3.5 * MiB, big));
    await Promise.all(writes);
    await device.flush();
    assert.deepEqual(await readBytes(device, 0, 4 * MiB), expected);
    await device.close();
    assert.deepEqual(readFileSync(path), expected);
  });

  it("a flush issued right after writes (not awaited) finds them in the file", async () => {
    const path = join(dir, "order.img");
    const device = await FileDevice.create(path, MiB, { ioEngine: "worker" });
    const small = Buffer.alloc(4096, 0xa5);
    const large = Buffer.alloc(512 * 1024, 0x5a);
    const pending = [device.write(0, small), device.write(512 * 1024, large)];
    await device.flush();
    // Once the flush resolved, both writes are in the file (read it outside the device).
    const file = readFileSync(path);
    assert.ok(file.subarray(0, 4096).every((b) => b === 0xa5));
    assert.ok(file.subarray(512 * 1024).every((b) => b === 0x5a));
    await Promise.all(pending);
    await device.close();
  });

  it("turns a read past the end of a truncated file into a MediumError naming the path", async () => {
    const path = join(dir, "short.img");
    const device = await FileDevice.create(path, MiB, { ioEngine: "worker" });
    await writeFile(path, Buffer.alloc(4096));
    await assert.rejects(device.read(8192, Buffer.alloc(4096)), (e: unknown) => {
      assert.ok(e instanceof MediumError);
      assert.match(e.message, /short\.img: unexpected end of file at offset 8192/);
      return true;
    });
    await device.close();
  });
});

describe("IoWorker", () => {
  it("reports the errno of a failed operation (EBADF on a closed fd)", async () => {
    const worker = new IoWorker({ slots: 4, slotBytes: 4096 });
    try {
      await assert.rejects(worker.read(1 << 20, 0, Buffer.alloc(512)), (e: NodeJS.ErrnoException) => {
        assert.equal(e.code, "EBADF");
        return true;
      });
    } finally {
      await worker.close();
    }
  });

  it("settles every request when the thread stops: in flight ones either way, later ones with EIO", async () => {
    const worker = new IoWorker({ slots: 2, slotBytes: 4096 });
    const fd = openSync("/dev/zero", "r");
    try {
      const reads = Array.from({ length: 5 }, () => worker.read(fd, 0, Buffer.alloc(1)));
      await worker.close();
      const settled = await Promise.allSettled(reads);
      assert.equal(settled.length, 5);
      await assert.rejects(
        worker.read(fd, 0, Buffer.alloc(1)),
        (e: NodeJS.ErrnoException) => e.code === "EIO",
      );
    } finally {
      closeSync(fd);
    }
  });

  it("completes 100,000 seeded requests in bursts, each ending with the event loop waiting for a wake-up", async () => {
    const dir = await mkdtemp(join(SHM, "dmremap-ioworker-"));
    const fd = openSync(join(dir, "bursts.img"), "w+");
    const worker = new IoWorker({ slots: 16, slotBytes: 4096 });
    try {
      const prng = new Prng(1616);
      const blocks = 256;
      ftruncateSync(fd, blocks * 512);
      const expected = Buffer.alloc(blocks * 512);
      let requests = 0;
      while (requests < 100_000) {
        // 1 to 40 requests at once (more than the slots, so some wait), then nothing until all are done.
        const burst: Promise<unknown>[] = [];
        for (let n = 1 + prng.nextInt(40); n > 0; n--, requests++) {
          const block = prng.nextInt(blocks);
          const kind = prng.nextInt(8);
          if (kind < 4) {
            const data = Buffer.alloc(512);
            prng.fill(data);
            data.copy(expected, block * 512);
            burst.push(worker.write(fd, block * 512, data, kind === 0));
          } else if (kind < 7) {
            const want = Buffer.from(expected.subarray(block * 512, (block + 1) * 512));
            const target = Buffer.alloc(512);
            // Requests of one worker run in order: this read sees every write submitted before it.
            burst.push(worker.read(fd, block * 512, target).then(() => assert.deepEqual(target, want)));
          } else {
            burst.push(worker.sync(fd));
          }
        }
        await Promise.all(burst);
        assert.equal(worker.pending, 0);
      }
      assert.deepEqual(readFileSync(join(dir, "bursts.img")), expected);
    } finally {
      await worker.close();
      closeSync(fd);
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("refuses a slot count that is not a power of two", () => {
    assert.throws(() => new IoWorker({ slots: 48 }), /I\/O worker slots 48 is not a power of two/);
  });
});

describe("io-engine environment", () => {
  it("reads DMREMAP_IO_ENGINE and DMREMAP_IO_WORKERS, naming a bad value", () => {
    assert.equal(ioEngineFromEnv({}), "auto");
    assert.equal(ioEngineFromEnv({ DMREMAP_IO_ENGINE: "loop" }), "loop");
    assert.throws(
      () => ioEngineFromEnv({ DMREMAP_IO_ENGINE: "uring" }),
      (e: unknown) => e instanceof SpecError && /DMREMAP_IO_ENGINE="uring" is not one of/.test(e.message),
    );
    assert.equal(ioWorkerCountFromEnv({}), 1);
    assert.equal(ioWorkerCountFromEnv({ DMREMAP_IO_WORKERS: "3" }), 3);
    assert.throws(() => ioWorkerCountFromEnv({ DMREMAP_IO_WORKERS: "0" }), /"0" is not a whole number/);
  });
});
