// End-to-end: `dmremap spare drain TARGET DEV` against the running daemon while fio runs a randrw
// verify workload on the export: no I/O or verify error, every block leaves the drained spare, the
// set checks clean and the export reads the same bytes after a restart.
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { cliJson, runCli, startProgram, tempDir, type RunningProgram } from "./harness.js";
import { api, fio, nbdsh, nbdUnixUri, requireTools, sparseFile } from "./tools.js";

interface SpareRow {
  index: number;
  totalBlocks: number;
  usedBlocks: number;
  device: string;
  metadata: string;
}

const FIO_JOB = [
  "--name=drain",
  "--rw=randrw",
  "--bs=4k",
  "--size=12m",
  "--verify=crc32c",
  "--randseed=7",
  "--iodepth=4",
  // About 3 s per run (the limit holds for reads and writes each), long enough to overlap an operation.
  "--rate_iops=500",
];

/** SHA-256 of the whole export, read through NBD. */
async function digest(uri: string): Promise<string> {
  const script =
    "import hashlib, sys\nd = hashlib.sha256()\nsize = h.get_size()\nfor at in range(0, size, 1 << 20):\n    d.update(h.pread(min(1 << 20, size - at), at))\nsys.stdout.write(d.hexdigest())";
  const result = await nbdsh(uri, script);
  assert.equal(result.code, 0, result.stderr);
  return result.stdout.trim();
}

/** Wait until the target has seen `n` client writes (a condition, polled). */
async function untilWrites(base: string, n: number): Promise<void> {
  for (;;) {
    const status = (await call(base, "GET", "/v1/targets/live")) as { io: { writes: number } };
    if (status.io.writes >= n) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function call(base: string, method: string, path: string, body?: unknown): Promise<unknown> {
  const answer = await api(base, method, path, body === undefined ? {} : { body });
  assert.ok(
    answer.status >= 200 && answer.status < 300,
    `${method} ${path}: ${answer.status} ${answer.text}`,
  );
  return answer.json;
}

test("spare drain online: fio randrw verify runs through it, the spare ends empty", async () => {
  await requireTools("fio", "nbdsh");
  const dir = await tempDir();
  let program: RunningProgram | undefined;
  try {
    const main = await sparseFile(join(dir.path, "main.img"), 16 << 20);
    const s0 = await sparseFile(join(dir.path, "s0.img"), 2 << 20);
    const s1 = await sparseFile(join(dir.path, "s1.img"), 2 << 20);
    const apiSocket = join(dir.path, "api.sock");
    const socket = join(dir.path, "nbd.sock");
    const config = join(dir.path, "dmremap.toml");
    await writeFile(
      config,
      `[api]\nlisten = "unix:${apiSocket}"\n[nbd]\nlisten = ["unix:${socket}"]\n[[target]]\nname = "live"\nmain = "${main}"\nspares = ["${s0}", "${s1}"]\ncreate = true\n`,
    );
    const base = `unix:${apiSocket}`;
    const uri = nbdUnixUri(socket, "live");
    const online = ["--api", base];
    program = await startProgram(["serve", "--config", config]);
    // 150 remapped blocks inside fio's region, all on spare 0 (slots are handed out in order).
    await call(base, "POST", "/v1/targets/live/remap", {
      blocks: Array.from({ length: 150 }, (_, i) => 100 + i * 7),
    });
    let rows = await cliJson<SpareRow[]>(["spare", "list", "live", ...online]);
    assert.deepEqual(
      rows.map((r) => r.usedBlocks),
      [150, 0],
    );

    // fio is rate-limited so it runs for seconds; the operation starts once its writes arrive and
    // must end while fio still runs (checked below), so the two overlap for sure.
    let fioRunning = true;
    const workload = fio(uri, [...FIO_JOB, "--do_verify=1"]).finally(() => (fioRunning = false));
    await untilWrites(base, 200);
    const drained = await runCli(["spare", "drain", "live", s0, ...online]);
    assert.ok(fioRunning, "the operation ended while fio was still running");
    assert.equal(drained.code, 0, drained.stderr);
    assert.match(drained.stdout, /drain of spare 0: done, 150\/150 blocks/);
    const run = await workload;
    assert.match(run.stdout, /err= 0/, run.stdout);
    assert.doesNotMatch(run.stdout, /verify: bad/, run.stdout);

    rows = await cliJson<SpareRow[]>(["spare", "list", "live", ...online]);
    assert.equal(rows[0]!.usedBlocks, 0, "nothing is left on the drained spare");
    assert.ok(rows[1]!.usedBlocks >= 150);
    const progress = (await call(base, "GET", "/v1/targets/live/spares/0/drain")) as {
      state: string;
      done: number;
    };
    assert.deepEqual([progress.state, progress.done], ["done", 150]);
    const metrics = await api(base, "GET", "/metrics");
    assert.match(metrics.text, /dmremap_spare_drain_blocks\{target="live",spare="0",kind="done"\} 150/);
    assert.match(metrics.text, /dmremap_spare_device_slots\{target="live",spare="0",kind="used"\} 0/);
    // Refusals name the problem.
    const unknown = await runCli(["spare", "drain", "live", "/nonexistent", ...online]);
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.stderr, /no spare "\/nonexistent"/);
    const noSpare = await api(base, "POST", "/v1/targets/live/spares/7/drain");
    assert.equal(noSpare.status, 404, noSpare.text);
    const before = await digest(uri);
    assert.equal(await program.stop("SIGTERM"), 0);
    program = undefined;

    const check = await runCli(["check", "--spare", s0, "--spare", s1]);
    assert.equal(check.code, 0, `${check.stdout}${check.stderr}`);
    program = await startProgram(["serve", "--config", config]);
    assert.equal(await digest(uri), before, "the same bytes after a restart with every spare");
    assert.equal(await program.stop("SIGTERM"), 0);
    program = undefined;
  } finally {
    await program?.stop("SIGKILL");
    await dir.cleanup();
  }
});
