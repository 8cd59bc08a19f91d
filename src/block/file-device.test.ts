// Unit tests of FileDevice: opening, sizing, errors naming the path, persistence, close while busy.
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, stat, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { readBytes } from "./base-device.js";
import { MediumError, OpenError, SpecError } from "./errors.js";
import { decodeDeviceNumber, FileDevice, readBlockDeviceSize } from "./file-device.js";

let dir = "";
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "dmremap-file-"));
});
after(() => rm(dir, { recursive: true, force: true }));

describe("FileDevice", () => {
  it("creates a sparse file of the requested size and refuses to overwrite it", async () => {
    const path = join(dir, "sparse.img");
    const device = await FileDevice.create(path, 64 << 20);
    assert.equal(device.sizeBytes, 64 << 20);
    assert.equal(device.describe(), path);
    assert.equal(device.isBlockDevice, false);
    await device.close();
    const st = await stat(path);
    assert.equal(st.size, 64 << 20);
    assert.ok(st.blocks * 512 < 1 << 20, `file is not sparse (${st.blocks} blocks allocated)`);
    await assert.rejects(FileDevice.create(path, 4096), (e: unknown) => {
      assert.ok(e instanceof OpenError);
      assert.match(e.message, /cannot create ".*sparse\.img": file exists/);
      return true;
    });
    await assert.rejects(
      FileDevice.create(join(dir, "odd.img"), 1000),
      /size 1000 is not a positive multiple of 512/,
    );
  });

  it("keeps data across close and reopen", async () => {
    const path = join(dir, "persist.img");
    const device = await FileDevice.create(path, 1 << 20);
    await device.write(4096 + 7, Buffer.from("hello, block device"), { fua: true });
    await device.flush();
    await device.close();
    const again = await FileDevice.open(path, { readOnly: true });
    assert.equal((await readBytes(again, 4096 + 7, 19)).toString(), "hello, block device");
    assert.equal(again.capabilities.readOnly, true);
    await again.close();
  });

  it("names the path when the file is missing", async () => {
    const path = join(dir, "missing.img");
    await assert.rejects(FileDevice.open(path), (e: unknown) => {
      assert.ok(e instanceof OpenError);
      assert.equal(e.message, `cannot open "${path}": no such file or directory`);
      return true;
    });
  });

  it("names the path and the size when the size is not a multiple of 512", async () => {
    const path = join(dir, "odd.img");
    await writeFile(path, new Uint8Array(1000));
    await assert.rejects(FileDevice.open(path), (e: unknown) => {
      assert.ok(e instanceof SpecError);
      assert.equal(e.message, `"${path}": size 1000 is not a positive multiple of 512 bytes`);
      return true;
    });
    await writeFile(path, new Uint8Array(0));
    await assert.rejects(FileDevice.open(path), /size 0 is not a positive multiple of 512 bytes/);
  });

  it("refuses directories and character devices", async () => {
    const sub = join(dir, "subdir");
    await mkdir(sub);
    await assert.rejects(FileDevice.open(sub), /is a directory/);
    await assert.rejects(
      FileDevice.open(sub, { readOnly: true }),
      /neither a regular file nor a block device/,
    );
    await assert.rejects(FileDevice.open("/dev/null", { readOnly: true }), SpecError);
  });

  it("reports a read past a truncated end as a MediumError, not as zeroes", async () => {
    const path = join(dir, "shrinking.img");
    const device = await FileDevice.create(path, 1 << 20);
    await truncate(path, 512 * 1024);
    await assert.rejects(device.read(600 * 1024, new Uint8Array(4096)), (e: unknown) => {
      assert.ok(e instanceof MediumError);
      assert.match(e.message, /unexpected end of file at offset 614400/);
      return true;
    });
    await device.close();
  });

  it("lets in-flight requests finish before closing the fd", async () => {
    const device = await FileDevice.create(join(dir, "busy.img"), 1 << 20);
    const requests = Array.from({ length: 32 }, (_, i) =>
      i % 2
        ? device.read(i * 4096, new Uint8Array(4096))
        : device.write(i * 4096, new Uint8Array(4096).fill(i)),
    );
    const closing = device.close();
    await Promise.all(requests);
    await closing;
    assert.equal(device.status().closed, true);
    assert.equal(device.status().inflight, 0);
  });
});

describe("block device helpers", () => {
  it("decodes device numbers like glibc", () => {
    assert.deepEqual(decodeDeviceNumber(0x810n), { major: 8, minor: 16 });
    assert.deepEqual(decodeDeviceNumber(0x10303n), { major: 259, minor: 3 });
    assert.deepEqual(decodeDeviceNumber(0x10082cn), { major: 8, minor: 300 });
    assert.deepEqual(decodeDeviceNumber(0x1000_0000_0000n), { major: 4096, minor: 0 });
  });

  it("reads the size of a block device from sysfs sectors", async () => {
    const sysfs = join(dir, "sys");
    await mkdir(join(sysfs, "dev/block/8:16"), { recursive: true });
    await writeFile(join(sysfs, "dev/block/8:16/size"), "2048\n");
    assert.equal(await readBlockDeviceSize(8, 16, sysfs), 1 << 20);
    await writeFile(join(sysfs, "dev/block/8:16/size"), "garbage\n");
    await assert.rejects(readBlockDeviceSize(8, 16, sysfs), /holds "garbage", not a sector count/);
  });
});
