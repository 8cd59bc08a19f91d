// Signature probe: blank devices are blank; crafted magics and real mkfs/mkswap output are named.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileDevice } from "./file-device.js";
import { MemoryDevice } from "./memory-device.js";
import { probeSignatures } from "./signature-probe.js";

async function deviceWith(patches: [number, number[] | string][]): Promise<MemoryDevice> {
  const dev = new MemoryDevice({ sizeBytes: 1 << 20 });
  for (const [at, data] of patches) {
    await dev.write(at, typeof data === "string" ? Buffer.from(data, "latin1") : Uint8Array.from(data));
  }
  return dev;
}

test("a blank device has no signature", async () => {
  assert.deepEqual(await probeSignatures(await deviceWith([])), []);
});

test("crafted magics are recognised by name", async () => {
  const cases: [string, [number, number[] | string][]][] = [
    ["XFS filesystem", [[0, "XFSB"]]],
    ["LUKS encrypted volume", [[0, [0x4c, 0x55, 0x4b, 0x53, 0xba, 0xbe]]]],
    ["LVM physical volume", [[512, "LABELONE\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0LVM2 001"]]],
    ["md RAID member (superblock 1.2)", [[4096, [0xfc, 0x4e, 0x2b, 0xa9]]]],
    [
      "GPT partition table",
      [
        [512, "EFI PART"],
        [510, [0x55, 0xaa]],
        [446 + 4, [0xee]],
      ],
    ],
    [
      "MBR partition table",
      [
        [510, [0x55, 0xaa]],
        [446 + 4, [0x83]],
      ],
    ],
    ["btrfs filesystem", [[0x10040, "_BHRfS_M"]]],
  ];
  for (const [name, patches] of cases) {
    const found = await probeSignatures(await deviceWith(patches));
    assert.ok(found.includes(name), `${name}: found ${JSON.stringify(found)}`);
  }
  // An MBR boot signature without a partition entry is no partition table.
  assert.deepEqual(await probeSignatures(await deviceWith([[510, [0x55, 0xaa]]])), []);
});

test("real mkfs.ext4 and mkswap output is recognised", async () => {
  const dir = mkdtempSync(join(tmpdir(), "dmremap-probe-"));
  try {
    const path = join(dir, "dev.img");
    for (const [tool, args, expected] of [
      ["mkfs.ext4", ["-q", "-F"], "ext4 filesystem"],
      ["mkswap", [], "swap space"],
    ] as const) {
      writeFileSync(path, "");
      truncateSync(path, 8 << 20);
      execFileSync(tool, [...args, path], {
        stdio: "ignore",
        env: { ...process.env, PATH: `/usr/sbin:/sbin:${process.env.PATH}` },
      });
      const dev = await FileDevice.open(path, { readOnly: true });
      try {
        assert.deepEqual(await probeSignatures(dev), [expected]);
      } finally {
        await dev.close();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("an extra probe from a higher layer is reported", async () => {
  const dev = await deviceWith([[0, "DMREMAP!"]]);
  const found = await probeSignatures(dev, [
    {
      name: "dmremap set",
      offsetBytes: 0,
      windowBytes: 512,
      test: (w) => Buffer.from(w.subarray(0, 8)).toString() === "DMREMAP!",
    },
  ]);
  assert.deepEqual(found, ["dmremap set"]);
});
