// End-to-end: `dmremap spare add TARGET DEV` against the running daemon while fio runs a randrw
// verify workload on the export: no I/O or verify error, the new slots take remaps the full first
// spare refuses, and after a restart with both spares the export reads the same bytes.
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
  "--name=online-add",
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

test("spare add online: fio randrw verify runs through it, the new slots are usable at once", async () => {
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
    const write = (spares: string[]) =>
      writeFile(
        config,
        `[api]\nlisten = "unix:${apiSocket}"\n[nbd]\nlisten = ["unix:${socket}"]\n[[target]]\nname = "live"\nmain = "${main}"\nspares = [${spares.map((s) => `"${s}"`).join(", ")}]\ncreate = true\n`,
      );
    await write([s0]);
    const base = `unix:${apiSocket}`;
    const uri = nbdUnixUri(socket, "live");
    program = await startProgram(["serve", "--config", config]);

    const online = ["--api", base];
    // fio is rate-limited so it runs for seconds; the operation starts once its writes arrive and
    // must end while fio still runs (checked below), so the two overlap for sure.
    let fioRunning = true;
    const workload = fio(uri, [...FIO_JOB, "--do_verify=1"]).finally(() => (fioRunning = false));
    await untilWrites(base, 200);
    const added = await runCli(["spare", "add", "live", s1, ...online]);
    assert.ok(fioRunning, "the operation ended while fio was still running");
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /as spare 1 of target live: \d+ slots .*usable after \d+ ms/);
    const run = await workload;
    assert.match(run.stdout, /err= 0/, run.stdout);
    assert.doesNotMatch(run.stdout, /verify: bad/, run.stdout);

    const rows = await cliJson<SpareRow[]>(["spare", "list", "live", ...online]);
    assert.deepEqual(
      rows.map((r) => [r.index, r.device, r.metadata]),
      [
        [0, s0, "ok"],
        [1, s1, "ok"],
      ],
    );
    // Fill the first spare through the API; the next remaps land on the new one.
    const free0 = rows[0]!.totalBlocks - rows[0]!.usedBlocks;
    const blocks = Array.from({ length: free0 + 3 }, (_, i) => 3000 + i);
    await call(base, "POST", "/v1/targets/live/remap", { blocks });
    const after = await cliJson<SpareRow[]>(["spare", "list", "live", ...online]);
    assert.deepEqual(
      after.map((r) => r.usedBlocks),
      [rows[0]!.totalBlocks, rows[1]!.usedBlocks + 3],
    );
    const refused = await api(base, "POST", "/v1/targets/live/spares", { body: { device: s0 } });
    assert.equal(refused.status, 409, refused.text);
    assert.match(refused.text, /overlaps/);
    const before = await digest(uri);
    assert.equal(await program.stop("SIGTERM"), 0);
    program = undefined;

    // The set is complete on disk, and serves the verified data with both spares.
    const check = await runCli(["check", "--spare", s0, "--spare", s1]);
    assert.equal(check.code, 0, `${check.stdout}${check.stderr}`);
    await write([s0, s1]);
    program = await startProgram(["serve", "--config", config]);
    assert.equal(await digest(uri), before, "the same bytes after a restart with every spare");
    assert.equal(await program.stop("SIGTERM"), 0);
    program = undefined;
  } finally {
    await program?.stop("SIGKILL");
    await dir.cleanup();
  }
});
