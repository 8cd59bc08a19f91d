// Tests of FileDevice with O_DIRECT: the contract suite, proof that alignment matters, unaligned
// read-modify-write under concurrency, alignment from sysfs, and refusal where O_DIRECT is unsupported.
import assert from "node:assert/strict";
import fs from "node:fs";
import { mkdir, readdir, readFile, readlink, rm, stat, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { directIoBuffers } from "./aligned-buffers.js";
import { readBytes } from "./base-device.js";
import { runBlockDeviceContract, type ContractSubject } from "./contract.js";
import { directTestDir } from "./direct-test-dir.js";
import { OpenError, SpecError } from "./errors.js";
import { decodeDeviceNumber, FileDevice, readLogicalBlockSize } from "./file-device.js";
import { openDevice } from "./open-device.js";
import { Prng } from "./prng.js";

const MiB = 1 << 20;
/** O_DIRECT as /proc/PID/fdinfo prints it (octal flags). */
const O_DIRECT = fs.constants.O_DIRECT;
let files = 0;

after(async () => rm(await directTestDir(), { recursive: true, force: true }));

async function newPath(): Promise<string> {
  return join(await directTestDir(), `dev-${files++}.img`);
}

async function directSubject(readOnly = false): Promise<ContractSubject> {
  const path = await newPath();
  const made = await FileDevice.create(path, MiB, { direct: true });
  if (!readOnly) return { device: made, cleanup: () => rm(path, { force: true }) };
  await made.close();
  const device = await FileDevice.open(path, { direct: true, readOnly: true });
  return { device, cleanup: () => rm(path, { force: true }) };
}

/** The open flags of this process's fds that point at `path`. */
async function fdFlags(path: string): Promise<number[]> {
  const flags: number[] = [];
  for (const fd of await readdir("/proc/self/fd")) {
    const target = await readlink(`/proc/self/fd/${fd}`).catch(() => "");
    if (target !== path) continue;
    const info = await readFile(`/proc/self/fdinfo/${fd}`, "utf8");
    flags.push(parseInt(/^flags:\s*([0-7]+)$/m.exec(info)![1]!, 8));
  }
  return flags;
}

/** A fake sysfs saying the directory's device has 4096-byte logical blocks (a 4Kn disk). */
async function sysfs4Kn(): Promise<string> {
  const dir = await directTestDir();
  const { major, minor } = decodeDeviceNumber((await stat(dir, { bigint: true })).dev);
  const root = join(dir, "sysfs-4kn");
  const queue = join(root, "dev/block", `${major}:${minor}`, "queue");
  await mkdir(queue, { recursive: true });
  await writeFile(join(queue, "logical_block_size"), "4096\n");
  return root;
}

async function direct4KnSubject(): Promise<ContractSubject> {
  const path = await newPath();
  await writeFile(path, new Uint8Array(MiB));
  const device = await FileDevice.open(path, { direct: true, sysfsRoot: await sysfs4Kn() });
  return { device, cleanup: () => rm(path, { force: true }) };
}

runBlockDeviceContract("FileDevice (direct)", () => directSubject(), {
  readOnlyFactory: () => directSubject(true),
  seed: 7,
});

runBlockDeviceContract("FileDevice (direct, 4096-byte alignment)", direct4KnSubject, { seed: 8 });

describe("FileDevice (direct)", () => {
  it("really opens O_DIRECT, where misaligned buffers fail and the device's own I/O succeeds", async () => {
    const path = await newPath();
    const device = await FileDevice.create(path, MiB, { direct: true });
    assert.equal(device.direct, true);
    assert.equal(device.describe(), `file+direct:${path}`);
    assert.equal(device.status().direct, true);
    const flags = await fdFlags(path);
    assert.equal(flags.length, 1);
    assert.ok((flags[0]! & O_DIRECT) !== 0, `fd flags ${flags[0]!.toString(8)} lack O_DIRECT`);

    const raw = fs.openSync(path, fs.constants.O_RDWR | O_DIRECT);
    try {
      const misaligned = Buffer.alloc(4096 + 1).subarray(1);
      assert.throws(() => fs.writeSync(raw, misaligned, 0, 4096, 0), { code: "EINVAL" });
      const chunk = await directIoBuffers.acquire();
      try {
        assert.throws(() => fs.writeSync(raw, chunk, 0, 100, 0), { code: "EINVAL" }, "unaligned length");
        assert.throws(() => fs.writeSync(raw, chunk, 0, 4096, 100), { code: "EINVAL" }, "unaligned offset");
        chunk.fill(0x5a, 0, 4096);
        assert.equal(fs.writeSync(raw, chunk, 0, 4096, 8192), 4096, "a pool chunk is aligned memory");
      } finally {
        directIoBuffers.release(chunk);
      }
    } finally {
      fs.closeSync(raw);
    }
    await device.write(8192 + 3, Buffer.from("odd offset, odd length"));
    const back = await readBytes(device, 8192, 4096);
    assert.equal(back.subarray(3, 25).toString(), "odd offset, odd length");
    assert.ok(back.subarray(0, 3).every((b) => b === 0x5a) && back.subarray(25).every((b) => b === 0x5a));
    await device.close();
  });

  it("loses no byte when concurrent unaligned writes share blocks (seeded)", async () => {
    const path = await newPath();
    const device = await FileDevice.create(path, MiB, { direct: true });
    const prng = new Prng(2024);
    const windowBytes = 3 * 512;
    for (let round = 0; round < 8; round++) {
      const model = await readBytes(device, 0, windowBytes);
      // Cut the window into disjoint runs of 1..40 bytes, write them all at once in random order.
      const runs: { offset: number; data: Buffer }[] = [];
      for (let at = prng.nextInt(8); at < windowBytes;) {
        const length = Math.min(1 + prng.nextInt(40), windowBytes - at);
        runs.push({ offset: at, data: prng.fill(Buffer.alloc(length)) as Buffer });
        at += length + prng.nextInt(3);
      }
      for (let i = runs.length - 1; i > 0; i--) {
        const j = prng.nextInt(i + 1);
        [runs[i], runs[j]] = [runs[j]!, runs[i]!];
      }
      await Promise.all(runs.map((r) => device.write(r.offset, r.data)));
      for (const r of runs) model.set(r.data, r.offset);
      assert.ok((await readBytes(device, 0, windowBytes)).equals(model), `round ${round}: bytes lost`);
    }
    await device.close();
  });

  it("splits requests larger than a bounce chunk and keeps their unaligned edges", async () => {
    const path = await newPath();
    const device = await FileDevice.create(path, 4 * MiB, { direct: true });
    const prng = new Prng(99);
    const before = prng.fill(Buffer.alloc(4 * MiB)) as Buffer;
    await device.write(0, before);
    const data = prng.fill(Buffer.alloc(2 * MiB + 1001)) as Buffer;
    await device.write(MiB - 777, data, { fua: true });
    before.set(data, MiB - 777);
    assert.ok((await readBytes(device, 0, 4 * MiB)).equals(before));
    assert.ok((await readBytes(device, MiB - 5, 2 * MiB + 3)).equals(before.subarray(MiB - 5, 3 * MiB - 2)));
    await device.close();
  });

  it("aligns to the logical block size sysfs reports for the file's device", async () => {
    const sysfs = await sysfs4Kn();

    const odd = await newPath();
    await writeFile(odd, new Uint8Array(MiB + 512));
    await assert.rejects(FileDevice.open(odd, { direct: true, sysfsRoot: sysfs }), (e: unknown) => {
      assert.ok(e instanceof SpecError);
      assert.equal(
        e.message,
        `"${odd}": size ${MiB + 512} is not a multiple of its direct I/O alignment 4096`,
      );
      return true;
    });

    const path = await newPath();
    await writeFile(path, new Uint8Array(MiB));
    const device = await FileDevice.open(path, { direct: true, sysfsRoot: sysfs });
    assert.equal(device.logicalBlockSize, 4096);
    assert.equal(device.status().directAlignmentBytes, 4096);
    await Promise.all([device.write(4095, Buffer.from([1, 2])), device.write(4097, Buffer.from([3]))]);
    assert.deepEqual([...(await readBytes(device, 4094, 5))], [0, 1, 2, 3, 0]);
    await device.close();
    const plain = await FileDevice.open(path, { sysfsRoot: sysfs });
    assert.equal(plain.logicalBlockSize, 512, "buffered I/O keeps 512");
    await plain.close();
  });

  it("reads a partition's logical block size from its disk", async () => {
    const sysfs = join(await directTestDir(), "sysfs-partition");
    await mkdir(join(sysfs, "devices/sda/sda1"), { recursive: true });
    await mkdir(join(sysfs, "devices/sda/queue"), { recursive: true });
    await mkdir(join(sysfs, "dev/block"), { recursive: true });
    await writeFile(join(sysfs, "devices/sda/queue/logical_block_size"), "4096\n");
    await symlink("../../devices/sda", join(sysfs, "dev/block/8:0"));
    await symlink("../../devices/sda/sda1", join(sysfs, "dev/block/8:1"));
    assert.equal(await readLogicalBlockSize(8, 0, sysfs), 4096);
    assert.equal(await readLogicalBlockSize(8, 1, sysfs), 4096);
    assert.equal(await readLogicalBlockSize(8, 2, sysfs), undefined);
  });

  it("refuses, naming the path, where the filesystem rejects O_DIRECT (procfs)", async () => {
    const path = "/proc/self/status";
    await assert.rejects(FileDevice.open(path, { direct: true, readOnly: true }), (e: unknown) => {
      assert.ok(e instanceof OpenError);
      assert.equal(
        e.message,
        `cannot open "${path}" with O_DIRECT: the filesystem does not support direct I/O (EINVAL)`,
      );
      return true;
    });
    await assert.rejects(openDevice(`file+direct:${path}`, { readOnly: true }), (e: unknown) => {
      assert.ok(e instanceof OpenError);
      assert.match(
        e.message,
        /^device spec "file\+direct:\/proc\/self\/status": cannot open .* with O_DIRECT/,
      );
      return true;
    });
  });

  it("on /dev/shm (tmpfs) either refuses clearly or, where the kernel emulates O_DIRECT, works", async () => {
    const type = Number(fs.statfsSync("/dev/shm").type);
    assert.equal(type, 0x01021994, "/dev/shm is tmpfs on the machines this suite targets");
    const path = join("/dev/shm", `dmremap-direct-${process.pid}.img`);
    await writeFile(path, new Uint8Array(64 * 1024));
    try {
      let device: FileDevice;
      try {
        device = await FileDevice.open(path, { direct: true });
      } catch (e) {
        assert.ok(e instanceof OpenError, String(e));
        assert.match(e.message, /with O_DIRECT: the filesystem does not support direct I\/O/);
        return;
      }
      // Linux >= 6.6 accepts O_DIRECT on tmpfs: the device must then behave like any other.
      assert.equal(device.memoryBacked, false, "direct devices never take the synchronous path");
      await device.write(1000, Buffer.from("tmpfs"));
      assert.equal((await readBytes(device, 1000, 5)).toString(), "tmpfs");
      await device.close();
    } finally {
      await rm(path, { force: true });
    }
  });

  it("opens file+direct: specs, creating missing files as direct devices", async () => {
    const path = await newPath();
    const device = await openDevice(`file+direct:${path}`, { create: { sizeBytes: MiB } });
    assert.equal(device.describe(), `file+direct:${path}`);
    assert.ok(device instanceof FileDevice && device.direct);
    await device.close();
    const again = await openDevice(device.describe(), { readOnly: true });
    assert.equal(again.describe(), `file+direct:${path}`);
    await again.close();
  });
});
