// DMREMAP_IO_ENGINE=worker in the real daemon: qemu-io writes (small ones through the I/O worker, a
// 256 KiB one through the threadpool, FUA, flush) over a remapped block read back verified, then again
// after a restart on the default engine; a bad engine name stops serve with a message naming it;
// fio at queue depth 32 gets every request answered and the daemon stops cleanly (no lost wake-up).
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { runCli, startProgram, tempDir, TOOL_ENV, run, type RunningProgram } from "./harness.js";
import { fio, nbdUnixUri, requireTools, sparseFile } from "./tools.js";

/** The harness's environment of every program it starts (mutable: this file sets the engine in it). */
const env = TOOL_ENV as NodeJS.ProcessEnv;

const WRITES = [
  "write -P 0xab 0 64k",
  "write -P 0xcd -f 128k 4k",
  "aio_write -P 0x5e 1M 256k",
  "aio_flush",
  "write -P 0x11 12800 512",
];
const READS = [
  "read -P 0xab 0 12800",
  "read -P 0x11 12800 512",
  "read -P 0xab 13312 52224",
  "read -P 0xcd 128k 4k",
  "read -P 0x5e 1M 256k",
];

async function qemuIo(uri: string, commands: readonly string[]): Promise<void> {
  const args = ["-f", "raw", ...commands.flatMap((c) => ["-c", c]), uri];
  const r = await run("qemu-io", args, { timeoutMs: 30_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stdout + r.stderr, /Pattern verification failed|error|failed/i);
}

test("DMREMAP_IO_ENGINE=worker serves verified data over a remapped block; a bad value is named", async () => {
  await requireTools("qemu-io");
  const dir = await tempDir();
  let program: RunningProgram | undefined;
  const serve = (engine: string) => {
    env["DMREMAP_IO_ENGINE"] = engine;
    return startProgram([
      "serve",
      "--spare",
      join(dir.path, "spare.img"),
      "--listen",
      `unix:${join(dir.path, "nbd.sock")}`,
      "--api",
      `unix:${join(dir.path, "api.sock")}`,
    ]);
  };
  try {
    const main = await sparseFile(join(dir.path, "main.img"), 8 << 20);
    const spare = await sparseFile(join(dir.path, "spare.img"), 4 << 20);
    const set = ["--spare", spare, "--main", main];
    assert.equal((await runCli(["create", ...set, "--name", "io"])).code, 0);
    // Block 3 (bytes 12288..16383) lives on the spare: the 512-byte write lands inside it.
    assert.equal((await runCli(["remap", ...set, "3"])).code, 0);
    const uri = `nbd+unix:///io?socket=${join(dir.path, "nbd.sock")}`;

    program = await serve("worker");
    await qemuIo(uri, [...WRITES, "flush", ...READS]);
    assert.equal(await program.stop("SIGTERM"), 0);
    program = undefined;

    program = await serve("loop");
    await qemuIo(uri, READS);
    assert.equal(await program.stop("SIGTERM"), 0);
    program = undefined;

    env["DMREMAP_IO_ENGINE"] = "uring";
    const bad = await runCli(["serve", "--spare", spare, "--listen", `unix:${join(dir.path, "x.sock")}`]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /DMREMAP_IO_ENGINE="uring" is not one of worker, loop, auto/);
  } finally {
    delete env["DMREMAP_IO_ENGINE"];
    await program?.stop("SIGKILL");
    await dir.cleanup();
  }
});

test("DMREMAP_IO_ENGINE=worker answers every request of fio rand write and rand rw at QD32", async () => {
  await requireTools("fio");
  const dir = await tempDir();
  let program: RunningProgram | undefined;
  try {
    const main = await sparseFile(join(dir.path, "main.img"), 256 << 20);
    const spare = await sparseFile(join(dir.path, "spare.img"), 16 << 20);
    assert.equal((await runCli(["create", "--main", main, "--spare", spare, "--name", "qd"])).code, 0);
    env["DMREMAP_IO_ENGINE"] = "worker";
    const socket = join(dir.path, "nbd.sock");
    program = await startProgram(["serve", "--spare", spare, "--listen", `unix:${socket}`]);
    // A lost completion wake-up stalled all 32 requests until the NBD deadline answered them EIO.
    for (const rw of ["randwrite", "randrw"]) {
      const out = await fio(nbdUnixUri(socket, "qd"), [
        "--name=qd32",
        `--rw=${rw}`,
        "--bs=4k",
        "--iodepth=32",
        "--norandommap",
        "--time_based",
        "--runtime=3",
        "--size=256m",
      ]);
      assert.doesNotMatch(out.stdout + out.stderr, /io_u error|Input\/output error/);
    }
    // A clean stop flushes the set through the same worker.
    assert.equal(await program.stop("SIGTERM"), 0);
    const stalled = program.logLines.filter((l) => /timed out|deadline exceeded|not flushed/.test(l));
    program = undefined;
    assert.deepEqual(stalled, []);
  } finally {
    delete env["DMREMAP_IO_ENGINE"];
    await program?.stop("SIGKILL");
    await dir.cleanup();
  }
});
