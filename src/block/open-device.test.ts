// Unit tests of openDevice: stacks built from specs, errors naming the spec, options, finding layers.
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { readBytes } from "./base-device.js";
import { MediumError, OpenError, ReadOnlyError, SpecError } from "./errors.js";
import { FaultDevice } from "./fault-device.js";
import { FileDevice } from "./file-device.js";
import { MemoryDevice } from "./memory-device.js";
import { faultLayers, findLayer, openDevice, registerDeviceOpener } from "./open-device.js";
import { SliceDevice } from "./slice-device.js";

let dir = "";
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "dmremap-open-"));
});
after(() => rm(dir, { recursive: true, force: true }));

async function rejectsWith(spec: string, type: typeof SpecError | typeof OpenError, message: string) {
  await assert.rejects(openDevice(spec), (e: unknown) => {
    assert.ok(e instanceof type, `expected ${type.name}, got ${String(e)}`);
    assert.equal(e.message, `device spec "${spec}": ${message}`);
    return true;
  });
}

describe("openDevice", () => {
  it("opens the documented examples with working layers", async () => {
    const dust = await openDevice("dust:block=5,block=9-12,block-size=4096,heal:mem:1G");
    assert.equal(dust.sizeBytes, 1024 ** 3);
    await assert.rejects(dust.read(10 * 4096, new Uint8Array(1)), MediumError);
    await dust.write(10 * 4096, new Uint8Array(4096).fill(3));
    assert.equal((await readBytes(dust, 10 * 4096, 1))[0], 3);
    assert.equal(dust.describe(), "dust:block-size=4K,block=5,block=9,block=11-12,heal:mem:1G");
    await dust.close();

    const random = await openDevice("random:read=0.01,write=0.001,flush=0,seed=42:mem:64M");
    assert.equal(random.describe(), "random:read=0.01,write=0.001,flush=0,seed=42:mem:64M");
    await random.close();
  });

  it("opens files, slices of files and creates missing files on request", async () => {
    const path = join(dir, "main.img");
    await assert.rejects(openDevice(path), OpenError);
    const created = await openDevice(path, { create: { sizeBytes: 4 << 20 } });
    assert.ok(created instanceof FileDevice);
    await created.write(3 << 20, new Uint8Array(512).fill(0x77), { fua: true });
    await created.close();
    const tail = await openDevice(`slice:offset=3M:${path}`);
    assert.equal(tail.sizeBytes, 1 << 20);
    assert.equal((await readBytes(tail, 0, 1))[0], 0x77);
    assert.equal(tail.describe(), `slice:offset=3M,length=1M:${path}`);
    await tail.close();
    const flakey = await openDevice(`flakey:up=5s,down=1s,mode=drop-writes:${path}`);
    assert.equal(flakey.describe(), `flakey:up=5s,down=1s,mode=drop-writes,corrupt-offset=0:${path}`);
    await flakey.close();
  });

  it("opens read-only stacks that refuse writes", async () => {
    const path = join(dir, "ro.img");
    await (await FileDevice.create(path, 1 << 20)).close();
    for (const spec of [path, `dust:block=1:${path}`, "mem:1M", "slice:offset=512:mem:1M"]) {
      const device = await openDevice(spec, { readOnly: true });
      assert.equal(device.capabilities.readOnly, true, spec);
      await device.read(0, new Uint8Array(512));
      await assert.rejects(device.write(0, new Uint8Array(1)), ReadOnlyError);
      await device.close();
    }
  });

  it("passes the clock and sleep to fault layers", async () => {
    let now = 0;
    const sleeps: number[] = [];
    const device = await openDevice("flakey:up=1s,down=1s:delay:read=30ms:mem:1M", {
      now: () => now,
      sleep: async (ms) => void sleeps.push(ms),
    });
    await device.read(0, new Uint8Array(1));
    now = 1500;
    await assert.rejects(device.read(0, new Uint8Array(1)), MediumError);
    assert.deepEqual(sleeps, [30]);
    await device.close();
  });

  it("finds layers in a stack", async () => {
    const device = await openDevice("dust:block=1:slice:offset=1M:flakey:up=1s,down=1s:mem:4M");
    const faults = faultLayers(device);
    assert.equal(faults.length, 2);
    assert.equal(faults[0], device);
    assert.deepEqual(
      faults[1]!.listRules().map((r) => r.kind),
      ["flakey"],
    );
    assert.ok(findLayer(device, SliceDevice) instanceof SliceDevice);
    assert.ok(findLayer(device, MemoryDevice) instanceof MemoryDevice);
    assert.equal(findLayer(device, FileDevice), undefined);
    assert.equal(findLayer(device, FaultDevice), device);
    await device.close();
  });

  it("describe() of an opened stack opens to the same stack", async () => {
    for (const spec of [
      "fault::mem:1M",
      "delay:read=200ms,write=0,range=0+1M:mem:2M",
      "flakey:up=1500ms,down=1s,mode=corrupt-byte,corrupt-offset=3,corrupt-value=9:mem:1M",
      "dust:block=1:random:write=0.5,seed=3:slice:offset=1M,length=2M:mem:4M",
    ]) {
      const first = await openDevice(spec);
      const second = await openDevice(first.describe());
      assert.equal(second.describe(), first.describe());
      await Promise.all([first.close(), second.close()]);
    }
  });

  it("names the spec and the bad value in every error", async () => {
    const missing = join(dir, "missing.img");
    await rejectsWith(missing, OpenError, `cannot open "${missing}": no such file or directory`);
    await rejectsWith(
      `slice:offset=1M:${missing}`,
      OpenError,
      `cannot open "${missing}": no such file or directory`,
    );
    const odd = join(dir, "odd.img");
    await writeFile(odd, new Uint8Array(1000));
    await rejectsWith(odd, SpecError, `"${odd}": size 1000 is not a positive multiple of 512 bytes`);
    await rejectsWith(
      "slice:offset=2M:mem:1M",
      SpecError,
      "slice of mem:1M (size 1048576): offset 2097152 is not inside the device (size 1048576)",
    );
    await rejectsWith(
      "dust:block=300:mem:1M",
      SpecError,
      "dust block 300 is not inside the device (256 blocks of 4096 bytes)",
    );
    await rejectsWith(
      "delay:read=1,range=1M+1M:mem:1M",
      SpecError,
      "delay range 1048576+1048576 is not a non-empty range inside the device (size 1048576)",
    );
    await assert.rejects(
      openDevice("dust:bloc=5:mem:1G"),
      /device spec "dust:bloc=5:mem:1G": unknown dust option "bloc"/,
    );
  });

  it("reports nbd URIs as unsupported when the nbd client is not built, or fails to connect", async () => {
    const spec = "nbd://127.0.0.1:1/none";
    const err: unknown = await openDevice(spec).then(
      (d) => d.close().then(() => "opened"),
      (e: unknown) => e,
    );
    assert.ok(err instanceof Error, "an nbd URI to a closed port must not open");
    if (err instanceof SpecError) {
      assert.equal(err.message, `device spec "${spec}": nbd URIs are not supported in this build`);
    } else {
      assert.ok(err instanceof OpenError, `connection failure is an OpenError: ${String(err)}`);
      assert.ok(err.message.startsWith(`device spec "${spec}": `), err.message);
    }
  });
});

describe("registerDeviceOpener (the seam the NBD client plugs into; block/ never imports nbd/)", () => {
  it("routes nbd URIs to the registered opener, under fault layers too, and names the spec on failure", async () => {
    const seen: string[] = [];
    registerDeviceOpener("nbd", async (uri, options) => {
      seen.push(`${uri} ro=${options.readOnly === true}`);
      if (uri.includes("refused")) throw new Error("connection refused");
      return new MemoryDevice({ sizeBytes: 1 << 20 });
    });
    const dev = await openDevice("dust:block=1,block-size=4096:nbd://host/disk", { readOnly: true });
    assert.equal(dev.sizeBytes, 1 << 20);
    await dev.close();
    assert.deepEqual(seen, ["nbd://host/disk ro=true"]);
    const spec = "nbd://refused/x";
    await assert.rejects(openDevice(spec), (err: unknown) => {
      assert.ok(err instanceof OpenError);
      assert.equal(err.message, `device spec "${spec}": cannot open "nbd://refused/x": connection refused`);
      return true;
    });
  });
});
