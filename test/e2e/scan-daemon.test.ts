// End-to-end: the background scanner of the real daemon finds bad blocks nobody has read (they
// become pending: status, list, logs), and after SIGKILL mid-pass a restart resumes near the cursor.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { cliJson, logMessage, runCli, startProgram, tempDir, type RunningProgram } from "./harness.js";
import { sparseFile } from "./tools.js";

const MIB = 1 << 20;
/** Clustered latent errors (a grow fault with initial bad blocks) and one far away. */
const BAD = [3000, 3010, 3020, 12000];

function config(dir: string, scan: string): string {
  return `[daemon]
data_dir = "${dir}"
[api]
listen = "unix:${dir}/api.sock"
[nbd]
listen = ["unix:${dir}/nbd.sock"]
[[target]]
name = "scan"
main = "${dir}/main.img"
spares = ["${dir}/spare.img"]
create = true
[target.policy]
read_retries = 0
read_retry_budget = "100ms"
[target.scan]
${scan}
[target.faults]
enabled = true
[target.faults.grow]
blocks = [${BAD.join(", ")}]
`;
}

interface ScanJson {
  state: string;
  pass: number;
  cursorBlock: number;
  scannedBlocks: number;
  totalBlocks: number;
  errorsFound: number;
  suspectBlocks: number;
  bytesPerSecond: number;
  etaSeconds: number | null;
}

function logField(line: string, field: string): unknown {
  return (JSON.parse(line) as Record<string, unknown>)[field];
}

test("scan start finds latent bad blocks: pending in status, list and logs", async () => {
  const dir = await tempDir();
  let program: RunningProgram | undefined;
  try {
    await sparseFile(join(dir.path, "main.img"), 64 * MIB);
    await sparseFile(join(dir.path, "spare.img"), 4 * MIB);
    const path = join(dir.path, "dmremap.toml");
    await writeFile(path, config(dir.path, `mode = "manual"`));
    program = await startProgram(["serve", "--config", path]);
    const api = ["--api", `unix:${dir.path}/api.sock`];

    const before = await cliJson<{ pendingBlocks: number }>(["status", "scan", ...api]);
    assert.equal(before.pendingBlocks, 0, "nobody has read the bad blocks yet");
    const started = await cliJson<ScanJson>(["scan", "start", "scan", ...api]);
    assert.equal(started.pass, 1);
    assert.equal(started.totalBlocks, 16384);
    await program.waitForLog((l) => logMessage(l) === "scan pass complete");

    const done = await cliJson<ScanJson & { forecast?: { tier: string } }>(["scan", "status", ...api]);
    assert.equal(done.state, "idle");
    assert.equal(done.scannedBlocks, done.totalBlocks);
    assert.equal(done.errorsFound, BAD.length);
    assert.equal(done.forecast?.tier, "watch", "pending blocks put the target on watch");
    const status = await cliJson<{
      pendingBlocks: number;
      health?: { tier: string; scan: { errorsFound: number } };
    }>(["status", "scan", ...api]);
    assert.equal(status.pendingBlocks, BAD.length);
    assert.equal(status.health?.tier, "watch");
    assert.equal(status.health?.scan.errorsFound, BAD.length);
    const human = await runCli(["status", "scan", ...api]);
    assert.match(human.stdout, /risk: +watch: 4 bad-block events in the last 30 d/);
    assert.match(human.stdout, /scan: +idle, pass 1, 100\.0% of the pass, 4 bad blocks found/);
    const list = await runCli(["list", ...api]);
    assert.equal(list.code, 0, list.stderr);
    for (const b of BAD) assert.match(list.stdout, new RegExp(`\\b${b}\\b`), `list shows block ${b}`);
    const found = program.logLines
      .filter((l) => logMessage(l) === "scan found a bad block")
      .map((l) => logField(l, "block"))
      .sort((a, b) => Number(a) - Number(b));
    assert.deepEqual(found, BAD);
    const again = await runCli(["scan", "pause", ...api]);
    assert.equal(again.code, 1, "pause while idle is refused");
    assert.match(again.stderr, /cannot pause the scan while it is idle/);
    assert.equal(await program.stop("SIGTERM"), 0);
    program = undefined;
  } finally {
    await program?.stop("SIGKILL");
    await dir.cleanup();
  }
});

test("SIGKILL mid-pass: the restarted daemon resumes the same pass near the persisted cursor", async () => {
  const dir = await tempDir();
  let program: RunningProgram | undefined;
  try {
    await sparseFile(join(dir.path, "main.img"), 64 * MIB);
    await sparseFile(join(dir.path, "spare.img"), 4 * MIB);
    const path = join(dir.path, "dmremap.toml");
    // 16 MiB/s over 64 MiB: a pass of about 4 s, cursor persisted every 200 ms.
    await writeFile(
      path,
      config(dir.path, `mode = "manual"\nrate = 16\npersist_every = "200ms"\nneighbourhood_mib = 0`),
    );
    program = await startProgram(["serve", "--config", path]);
    const api = ["--api", `unix:${dir.path}/api.sock`];
    await cliJson<ScanJson>(["scan", "start", ...api]);
    // Logged only once that progress is durable.
    const line = await program.waitForLog(
      (l) => logMessage(l) === "scan progress" && Number(logField(l, "percent")) >= 30,
    );
    const persistedBlocks = Number(logField(line, "scannedBlocks"));
    assert.equal(await program.stop("SIGKILL"), null);
    program = undefined;
    const record = JSON.parse(await readFile(join(dir.path, "scan.scan.json"), "utf8")) as { state: string };
    assert.equal(record.state, "scanning", "the side record says a pass was running");

    program = await startProgram(["serve", "--config", path]);
    await program.waitForLog((l) => logMessage(l) === "scan resumes");
    const resumed = program.logLines.find((l) => logMessage(l) === "scan resumes")!;
    assert.equal(logField(resumed, "pass"), 1, "the same pass");
    // The staggered sweep's cursor block jumps between regions; the blocks covered only grow.
    assert.ok(
      Number(logField(resumed, "scannedBlocks")) >= persistedBlocks,
      "resumed at or after the durable progress",
    );
    const status = await cliJson<ScanJson>(["scan", "status", ...api]);
    assert.ok(status.scannedBlocks >= persistedBlocks, `${status.scannedBlocks} >= ${persistedBlocks}`);
    const complete = await program.waitForLog((l) => logMessage(l) === "scan pass complete");
    assert.equal(logField(complete, "pass"), 1);
    assert.ok(
      Number(logField(complete, "bytesRead")) < 64 * MIB + 8 * MIB,
      "at most one interval read again",
    );
    const final = await cliJson<{ pendingBlocks: number }>(["status", "scan", ...api]);
    assert.equal(final.pendingBlocks, BAD.length, "every bad block found across the restart");
    assert.equal(await program.stop("SIGTERM"), 0);
    program = undefined;
  } finally {
    await program?.stop("SIGKILL");
    await dir.cleanup();
  }
});
