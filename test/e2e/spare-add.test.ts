// End-to-end: `dmremap spare add` and `spare list` through the real program on temp files: the new
// spare's slots take remaps the full pool refused, the table and the data survive, the set checks
// clean and serves with both spares; bad targets are refused with one clear line.
import { test } from "node:test";
import assert from "node:assert/strict";
import { open } from "node:fs/promises";
import { join } from "node:path";
import { cliJson, run, runCli, tempDir, TOOL_ENV, type RunResult } from "./harness.js";
import { nbdsh, nbdUnixUri, requireTools, seededBytes, sparseFile } from "./tools.js";
import { startProgram } from "./harness.js";

interface SpareRow {
  index: number;
  totalBlocks: number;
  usedBlocks: number;
  freeBlocks: number;
  device: string;
  metadata: string;
}

function assertOneLineError(result: RunResult, ...needles: string[]): void {
  assert.notEqual(result.code, 0, `expected a failure, got exit 0; stdout: ${result.stdout}`);
  const lines = result.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `expected one stderr line, got:\n${result.stderr}`);
  for (const n of needles) assert.ok(lines[0]!.includes(n), `stderr should name "${n}": ${lines[0]}`);
}

const blocks = (from: number, count: number) => Array.from({ length: count }, (_, i) => String(from + i));

test("spare add: a full pool grows, the table and data survive, the set serves with both spares", async () => {
  await requireTools("nbdsh");
  const dir = await tempDir();
  try {
    const main = await sparseFile(join(dir.path, "main.img"), 16 << 20);
    const s0 = await sparseFile(join(dir.path, "s0.img"), 2 << 20);
    const s1 = await sparseFile(join(dir.path, "s1.img"), 2 << 20);
    const created = await runCli(["create", "--main", main, "--spare", s0, "--name", "grow"]);
    assert.equal(created.code, 0, created.stderr);
    const pattern = seededBytes(11, 4096);
    const fh = await open(main, "r+");
    await fh.write(pattern, 0, 4096, 9 * 4096);
    await fh.close();

    const [before] = await cliJson<SpareRow[]>(["spare", "list", "--spare", s0]);
    const slots0 = before!.totalBlocks;
    // Fill the only spare, then one more block is refused for lack of slots.
    const fill = await runCli(["remap", "--spare", s0, ...blocks(9, slots0)]);
    assert.equal(fill.code, 0, fill.stderr);
    const full = await runCli(["remap", "--spare", s0, String(9 + slots0)]);
    assert.notEqual(full.code, 0, "a remap beyond the pool is refused");

    const added = await runCli(["spare", "add", "--spare", s0, s1]);
    assert.equal(added.code, 0, added.stderr);
    assert.match(
      added.stdout,
      new RegExp(`added ${s1.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")} as spare 1 of set "grow"`),
    );

    const set = ["--spare", s0, "--spare", s1];
    const rows = await cliJson<SpareRow[]>(["spare", "list", ...set]);
    assert.deepEqual(
      rows.map((r) => [r.index, r.device, r.usedBlocks, r.metadata]),
      [
        [0, s0, slots0, "ok"],
        [1, s1, 0, "ok"],
      ],
    );
    assert.ok(rows[1]!.totalBlocks > 0);
    const more = await runCli(["remap", ...set, String(9 + slots0), String(10 + slots0)]);
    assert.equal(more.code, 0, `the new spare's slots take remaps: ${more.stderr}`);
    const after = await cliJson<SpareRow[]>(["spare", "list", ...set]);
    assert.deepEqual(
      after.map((r) => r.usedBlocks),
      [slots0, 2],
    );
    const check = await runCli(["check", ...set]);
    assert.equal(check.code, 0, `${check.stdout}${check.stderr}`);

    // Served with both spares, block 9 (remapped before the add) reads its data back.
    const sock = join(dir.path, "nbd.sock");
    const program = await startProgram([
      "serve",
      ...set,
      "--listen",
      `unix:${sock}`,
      "--api",
      "tcp:127.0.0.1:0",
    ]);
    try {
      const uri = nbdUnixUri(sock, "grow");
      const read = await nbdsh(uri, `import sys; sys.stdout.write(h.pread(4096, ${9 * 4096}).hex())`);
      assert.equal(read.code, 0, read.stderr);
      assert.equal(read.stdout.trim(), pattern.toString("hex"));
    } finally {
      assert.equal(await program.stop("SIGTERM"), 0);
    }

    // Without the new spare the set opens degraded and names it.
    const degraded = await cliJson<{
      state: string;
      missingSpares: { index: number; lastKnownDevice?: string }[];
    }>(["status", "--spare", s0]);
    assert.equal(degraded.state, "degraded");
    assert.deepEqual(
      degraded.missingSpares.map((m) => [m.index, m.lastKnownDevice]),
      [[1, s1]],
    );
  } finally {
    await dir.cleanup();
  }
});

test("spare add refuses a member, the main, a device with a filesystem and a missing device name", async () => {
  await requireTools("mkfs.ext4");
  const dir = await tempDir();
  try {
    const main = await sparseFile(join(dir.path, "main.img"), 16 << 20);
    const s0 = await sparseFile(join(dir.path, "s0.img"), 2 << 20);
    const fs = await sparseFile(join(dir.path, "fs.img"), 4 << 20);
    assert.equal((await runCli(["create", "--main", main, "--spare", s0, "--name", "ref"])).code, 0);
    const mkfs = await run("mkfs.ext4", ["-q", "-F", fs], { env: TOOL_ENV });
    assert.equal(mkfs.code, 0, mkfs.stderr);
    assertOneLineError(await runCli(["spare", "add", "--spare", s0, s0]), "overlaps", s0);
    assertOneLineError(await runCli(["spare", "add", "--spare", s0, main]), "overlaps", main);
    assertOneLineError(await runCli(["spare", "add", "--spare", s0, fs]), fs, "ext4", "--force");
    assertOneLineError(await runCli(["spare", "add", "--spare", s0]), "exactly one device");
    assertOneLineError(
      await runCli(["spare", "drop", "--spare", s0]),
      "add, drain, remove, rebuild, list",
      '"drop"',
    );
    // Nothing changed: still one spare, clean.
    const rows = await cliJson<SpareRow[]>(["spare", "list", "--spare", s0]);
    assert.equal(rows.length, 1);
    assert.equal((await runCli(["check", "--spare", s0])).code, 0);
  } finally {
    await dir.cleanup();
  }
});
