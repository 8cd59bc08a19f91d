import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type DeviceIdentity,
  identityFromFacts,
  identityMismatch,
  identityText,
  probeDeviceIdentity,
} from "./device-identity.js";

const disk = (
  path: string,
  sysfs: { wwn?: string; serial?: string; model?: string },
  byIdNames: string[] = [],
) => identityFromFacts({ kind: "block", path, sizeBytes: 1 << 30, sysfs, byIdNames });

test("block devices match on WWN / serial across a /dev/sdX rename and differ by name otherwise", () => {
  const a = disk("/dev/sdb", { wwn: " naa.5000c500a1b2c3d4\n", serial: "ZA1", model: "ST1000" }, [
    "ata-ST1000_ZA1",
    "wwn-0x5000c500a1b2c3d4",
    "ata-ST1000_ZA1-part1",
  ]);
  assert.equal(a.kind === "block" && a.byId, "wwn-0x5000c500a1b2c3d4");
  assert.equal(a.kind === "block" && a.wwn, "naa.5000c500a1b2c3d4");
  const renamed = disk("/dev/sdc", { wwn: "naa.5000c500a1b2c3d4", serial: "ZA1", model: "ST1000" });
  assert.equal(identityMismatch(a, renamed), undefined);
  const other = disk("/dev/sdb", { wwn: "naa.5000c500ffffffff", serial: "ZB9", model: "ST1000" });
  assert.match(identityMismatch(a, other) ?? "", /wwn naa.5000c500ffffffff instead of naa.5000c500a1b2c3d4/);
  const noIds = disk("/dev/sdb", {});
  assert.match(
    identityMismatch(noIds, disk("/dev/sdd", {})) ?? "",
    /\/dev\/sdd instead of \/dev\/sdb \(the device has no stable ID\)/,
  );
  assert.match(
    identityText(a),
    /\/dev\/disk\/by-id\/wwn-0x5000c500a1b2c3d4 \(wwn naa.5000c500a1b2c3d4, serial ZA1, model ST1000/,
  );
});

test("files match on device + inode, NBD on URI; size, kind and slice range always", () => {
  const f = identityFromFacts({ kind: "file", path: "/a.img", sizeBytes: 4096, dev: "8:1", ino: "12" });
  const copy = identityFromFacts({ kind: "file", path: "/a.img", sizeBytes: 4096, dev: "8:1", ino: "13" });
  assert.match(
    identityMismatch(f, copy) ?? "",
    /file \/a.img \(device 8:1, inode 13\) instead of \/a.img \(device 8:1, inode 12\)/,
  );
  const bigger: DeviceIdentity = { ...f, sizeBytes: 8192 };
  assert.match(identityMismatch(f, bigger) ?? "", /8192 bytes instead of 4096/);
  const n = identityFromFacts({ kind: "nbd", uri: "nbd://h/a", sizeBytes: 4096 });
  assert.match(identityMismatch(f, n) ?? "", /a nbd device instead of a file device/);
  const other = identityFromFacts({ kind: "nbd", uri: "nbd://h/b", sizeBytes: 4096 });
  assert.match(identityMismatch(n, other) ?? "", /nbd:\/\/h\/b instead of nbd:\/\/h\/a/);
  const sliced = identityFromFacts({ kind: "nbd", uri: "nbd://h/a", sizeBytes: 4096 }, "0+4096");
  assert.match(identityMismatch(n, sliced) ?? "", /byte range 0\+4096 instead of whole device/);
});

test("probeDeviceIdentity: a file by device + inode (through slices and fault layers), memory, NBD", async () => {
  const dir = await mkdtemp(join(tmpdir(), "ident-"));
  try {
    const path = join(dir, "main.img");
    await writeFile(path, new Uint8Array(8192));
    const id = await probeDeviceIdentity(path, 8192);
    assert.equal(id.kind, "file");
    assert.ok(id.kind === "file" && /^\d+:\d+$/.test(id.device) && /^\d+$/.test(id.inode));
    const sliced = await probeDeviceIdentity(`slice:offset=4096:${path}`, 4096);
    assert.equal(sliced.kind === "file" && sliced.range, "4096+end");
    assert.equal(identityMismatch(id, { ...id }), undefined);
    assert.deepEqual(await probeDeviceIdentity("mem:1M", 1 << 20), { kind: "memory", sizeBytes: 1 << 20 });
    assert.deepEqual(await probeDeviceIdentity("nbd+unix:///e?socket=/s", 512), {
      kind: "nbd",
      uri: "nbd+unix:///e?socket=/s",
      sizeBytes: 512,
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
