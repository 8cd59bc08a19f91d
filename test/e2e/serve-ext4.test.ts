// End-to-end: ext4 on a served set whose main has dm-dust bad blocks where mkfs writes (inode table,
// journal), through nbdfuse; files written with debugfs survive a SIGTERM restart and e2fsck is clean.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { cliJson, mustRun, run, runCli, startProgram, tempDir, type RunningProgram } from "./harness.js";
import {
  mountNbdfuse,
  nbdUnixUri,
  requireTools,
  seededBytes,
  sha256,
  sparseFile,
  type FuseMount,
} from "./tools.js";

const MAIN_BYTES = 128 << 20;
/** mkfs writes every 4 KiB block of the inode table and the journal before anything reads them. */
const MKFS_ARGS = ["-F", "-q", "-b", "4096", "-E", "nodiscard,lazy_itable_init=0,lazy_journal_init=0"];
const FILE_SIZES = [1, 3000, 4096 * 3, 70_001, 200_000];

/** Bad blocks for main: two in the inode table and two in the journal of a fresh ext4 of this size. */
async function badBlocksWhereMkfsWrites(dir: string): Promise<number[]> {
  const scratch = await sparseFile(join(dir, "scratch.img"), MAIN_BYTES);
  await mustRun("mkfs.ext4", [...MKFS_ARGS, scratch], { timeoutMs: 60_000 });
  const dump = await mustRun("dumpe2fs", [scratch], { timeoutMs: 30_000 });
  const itable = /Inode table at (\d+)-(\d+)/.exec(dump.stdout);
  assert.ok(itable, `dumpe2fs shows the inode table:\n${dump.stdout.slice(0, 2000)}`);
  const journal = await mustRun("debugfs", ["-R", "stat <8>", scratch], { timeoutMs: 30_000 });
  const extents = [...journal.stdout.matchAll(/\(\d+-\d+\):(\d+)-(\d+)/g)].map((m) => [
    Number(m[1]),
    Number(m[2]),
  ]);
  const longest = extents.sort((a, b) => b[1]! - b[0]! - (a[1]! - a[0]!))[0];
  assert.ok(longest, `debugfs shows the journal's extents:\n${journal.stdout}`);
  const [i0, i1] = [Number(itable[1]), Number(itable[2])];
  const [j0, j1] = longest as [number, number];
  return [
    Math.floor(i0 + (i1 - i0) / 3),
    Math.floor(i0 + (2 * (i1 - i0)) / 3),
    Math.floor(j0 + (j1 - j0) / 3),
    Math.floor(j0 + (2 * (j1 - j0)) / 3),
  ];
}

function serve(spare: string, socket: string): Promise<RunningProgram> {
  return startProgram(["serve", "--spare", spare, "--listen", `unix:${socket}`, "--api", "tcp:127.0.0.1:0"]);
}

async function stopCleanly(program: RunningProgram): Promise<void> {
  assert.equal(await program.stop("SIGTERM"), 0, "dmremap exits 0 on SIGTERM");
}

/** Run debugfs commands from a file; debugfs exits 0 even when a command fails, so callers check results. */
async function debugfs(image: string, commands: string[], write: boolean, dir: string): Promise<void> {
  const cmdFile = join(dir, "debugfs.cmd");
  await writeFile(cmdFile, commands.join("\n") + "\n");
  // -D: direct I/O makes libext2fs write whole blocks; nbdfuse refuses the sub-sector superblock update
  // that a buffered close would do (the export's minimum block size is 512).
  await mustRun("debugfs", [...(write ? ["-w", "-D"] : []), "-f", cmdFile, image], { timeoutMs: 60_000 });
}

test("ext4 over nbdfuse with bad blocks under mkfs: files survive a restart, fsck clean", async () => {
  await requireTools("nbdfuse", "fusermount3", "mkfs.ext4", "debugfs", "dumpe2fs", "e2fsck");
  const dir = await tempDir();
  let program: RunningProgram | undefined;
  let mount: FuseMount | undefined;
  try {
    const bad = await badBlocksWhereMkfsWrites(dir.path);
    const main = await sparseFile(join(dir.path, "main.img"), MAIN_BYTES);
    const spare = await sparseFile(join(dir.path, "spare.img"), 16 << 20);
    const socket = join(dir.path, "nbd.sock");
    const mountDir = join(dir.path, "mnt");
    await mkdir(mountDir);
    const mainSpec = `dust:${bad.map((b) => `block=${b}`).join(",")},block-size=4096:${main}`;
    const created = await runCli(["create", "--main", mainSpec, "--spare", spare, "--name", "fs"]);
    assert.equal(created.code, 0, created.stderr);

    const files = FILE_SIZES.map((size, i) => ({ name: `f${i}`, data: seededBytes(1000 + i, size) }));
    for (const f of files) await writeFile(join(dir.path, `${f.name}.src`), f.data);

    program = await serve(spare, socket);
    mount = await mountNbdfuse(mountDir, nbdUnixUri(socket, "fs"));
    await mustRun("mkfs.ext4", [...MKFS_ARGS, mount.file], { timeoutMs: 120_000 });
    await debugfs(
      mount.file,
      files.map((f) => `write ${join(dir.path, `${f.name}.src`)} /${f.name}`),
      true,
      dir.path,
    );
    await mount.unmount();
    mount = undefined;
    await stopCleanly(program);
    program = undefined;

    const status = await cliJson<{ remappedBlocks: number; pendingBlocks: number; lostSectors: number }>([
      "status",
      "--spare",
      spare,
    ]);
    assert.equal(
      status.remappedBlocks,
      bad.length,
      `every bad block mkfs wrote (${bad.join(", ")}) was remapped`,
    );
    assert.equal(status.pendingBlocks, 0);
    assert.equal(status.lostSectors, 0, "mkfs wrote whole blocks: nothing lost");

    program = await serve(spare, socket);
    mount = await mountNbdfuse(mountDir, nbdUnixUri(socket, "fs"));
    const fsck = await run("e2fsck", ["-fn", mount.file], { timeoutMs: 120_000 });
    assert.equal(fsck.code, 0, `e2fsck -fn must be clean:\n${fsck.stdout}\n${fsck.stderr}`);
    await debugfs(
      mount.file,
      files.map((f) => `dump /${f.name} ${join(dir.path, `${f.name}.out`)}`),
      false,
      dir.path,
    );
    for (const f of files) {
      const back = await readFile(join(dir.path, `${f.name}.out`));
      assert.equal(sha256(back), sha256(f.data), `/${f.name} (${f.data.length} bytes) reads back intact`);
    }
    await mount.unmount();
    mount = undefined;
    await stopCleanly(program);
    program = undefined;
  } finally {
    if (mount) await run("fusermount3", ["-u", join(dir.path, "mnt")], { timeoutMs: 30_000 });
    await program?.stop("SIGKILL");
    await dir.cleanup();
  }
});
