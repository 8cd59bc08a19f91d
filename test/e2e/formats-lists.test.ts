// End-to-end: badblocks run against a failing disk gives a list that `dmremap import badblocks` turns
// into the pending set of the bad sectors (1024- and 4096-byte units); `dmremap export e2fsck` fed to
// `e2fsck -l` on an ext4 filesystem inside main puts exactly those blocks in the bad-block inode.
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { mustRun, run, runCli, tempDir } from "./harness.js";
import {
  blocksOf,
  dmremapJson,
  failingDisk,
  seededBadSectors,
  type FailingDisk,
  type ImportAnswer,
} from "./formats-support.js";
import { requireTools, sparseFile } from "./tools.js";

const DISK_BYTES = 4 << 20;
const BAD = seededBadSectors(1415, 6, 64 << 10, DISK_BYTES - (64 << 10));
const EXPECTED = blocksOf(BAD, 4096);

describe("badblocks interop", async () => {
  const dir = await tempDir("dmremap-formats-bb-");
  let disk: FailingDisk | undefined;
  before(async () => {
    await requireTools("badblocks", "nbdkit", "nbdfuse");
    disk = await failingDisk(dir.path, DISK_BYTES, BAD);
  });
  after(async () => {
    await disk?.close();
    await dir.cleanup();
  });

  for (const unit of [1024, 4096]) {
    it(`badblocks -b ${unit} output imported with --unit ${unit} gives the bad blocks`, async () => {
      const list = join(dir.path, `bb-${unit}.txt`);
      await mustRun("badblocks", ["-b", String(unit), "-o", list, disk!.file], { timeoutMs: 60_000 });
      assert.ok((await readFile(list, "utf8")).trim().length > 0, "badblocks found the bad sectors");
      const main = await sparseFile(join(dir.path, `main-${unit}.img`), DISK_BYTES);
      const spare = await sparseFile(join(dir.path, `spare-${unit}.img`), 1 << 20);
      assert.equal(
        (await runCli(["create", "--main", main, "--spare", spare, "--name", `bb${unit}`])).code,
        0,
      );
      const set = ["--spare", spare, "--state-dir", join(dir.path, "state")];
      const done = await dmremapJson<ImportAnswer>([
        "import",
        "badblocks",
        list,
        "--unit",
        String(unit),
        ...set,
      ]);
      assert.deepEqual(done.plan.markPending, EXPECTED);
      const again = await dmremapJson<ImportAnswer>([
        "import",
        "badblocks",
        list,
        "--unit",
        String(unit),
        ...set,
      ]);
      assert.deepEqual(again.plan.markPending, []);
      // The export in the same unit lists every unit of those blocks.
      const exported = await runCli(["export", "badblocks", "--unit", String(unit), ...set]);
      assert.equal(exported.code, 0, exported.stderr);
      const perBlock = 4096 / unit;
      assert.deepEqual(
        exported.stdout.trim().split("\n").map(Number),
        EXPECTED.flatMap((b) => Array.from({ length: perBlock }, (_, i) => b * perBlock + i)),
      );
    });
  }
});

describe("e2fsck interop", () => {
  it("e2fsck -l with our export puts exactly the pending blocks in the bad-block inode (fs at 1 MiB of main)", async () => {
    await requireTools("mkfs.ext4", "e2fsck", "dumpe2fs");
    const dir = await tempDir("dmremap-formats-e2fsck-");
    try {
      const main = await sparseFile(join(dir.path, "main.img"), 8 << 20);
      await mustRun("mkfs.ext4", ["-q", "-F", "-b", "1024", "-E", "offset=1048576", main, "7M"]);
      const spare = await sparseFile(join(dir.path, "spare.img"), 1 << 20);
      assert.equal((await runCli(["create", "--main", main, "--spare", spare, "--name", "fsck"])).code, 0);
      // dmremap block b covers filesystem blocks 4 * (b - 256) .. + 3: pick blocks in free space.
      const pending = [256 + 1500, 256 + 1700, 256 + 1701];
      const marked = await runCli(["pending", "--spare", spare, ...pending.map(String)]);
      assert.equal(marked.code, 0, marked.stderr);
      const expected = pending.flatMap((b) => [0, 1, 2, 3].map((i) => 4 * (b - 256) + i));
      const exported = await runCli([
        "export",
        "e2fsck",
        "--spare",
        spare,
        "--fs-block-size",
        "1024",
        "--offset",
        "1M",
      ]);
      assert.equal(exported.code, 0, exported.stderr);
      assert.deepEqual(exported.stdout.trim().split("\n").map(Number), expected);
      const listFile = join(dir.path, "bad.txt");
      await writeFile(listFile, exported.stdout);
      const fs = `${main}?offset=1048576`;
      const fsck = await run("e2fsck", ["-fy", "-l", listFile, fs], { timeoutMs: 60_000 });
      assert.ok(
        fsck.code === 0 || fsck.code === 1,
        `e2fsck exited ${fsck.code}: ${fsck.stdout}${fsck.stderr}`,
      );
      const inBadInode = await mustRun("dumpe2fs", ["-b", fs]);
      assert.deepEqual(inBadInode.stdout.trim().split("\n").map(Number), expected);
    } finally {
      await dir.cleanup();
    }
  });
});
