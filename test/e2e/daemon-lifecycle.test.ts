// End-to-end: the daemon's services and their bounds. State changes are loud (one warn/error log
// line with the reason, and a metric); /v1/services shows every service; SIGTERM with a main device
// that is gone (nbdkit killed) still ends within the shutdown bound, logs what was not flushed and
// exits 1.
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { logMessage, readyAddresses, runCli, startProgram, tempDir, type RunningProgram } from "./harness.js";
import {
  api,
  nbdsh,
  nbdUnixUri,
  parsePrometheus,
  requireTools,
  sampleValue,
  sparseFile,
  startNbdkit,
  type HelperProcess,
} from "./tools.js";

const MiB = 1 << 20;

interface LogLine {
  level?: string;
  msg?: string;
  target?: string;
  from?: string;
  to?: string;
  reason?: string;
}

const parse = (line: string): LogLine => {
  try {
    return JSON.parse(line) as LogLine;
  } catch {
    return {};
  }
};

test("state changes are logged at warn/error with the reason and counted; services are listed", async () => {
  const dir = await tempDir();
  let program: RunningProgram | undefined;
  try {
    const main = await sparseFile(join(dir.path, "main.img"), 16 * MiB);
    const spare = await sparseFile(join(dir.path, "spare.img"), 2 * MiB);
    assert.equal((await runCli(["create", "--main", main, "--spare", spare, "--name", "loud"])).code, 0);
    const apiSocket = `unix:${join(dir.path, "api.sock")}`;
    program = await startProgram([
      "serve",
      "--spare",
      spare,
      "--listen",
      `unix:${dir.path}/nbd.sock`,
      "--api",
      apiSocket,
    ]);

    const services = (await api(apiSocket, "GET", "/v1/services")).json as { name: string; state: string }[];
    const names = services.map((s) => s.name);
    // Start order: the targets, then each target's services (TARGET_SERVICES), then API and NBD.
    assert.equal(names[0], "targets");
    assert.deepEqual(names.slice(-2), ["api", "nbd"]);
    assert.ok(
      names.slice(1, -2).every((n) => n.endsWith(":loud")),
      `per-target services are named after the target: ${names.join(", ")}`,
    );
    assert.ok(
      services.every((s) => s.state === "running"),
      JSON.stringify(services),
    );

    assert.equal(
      (await api(apiSocket, "POST", "/v1/targets/loud/pending", { body: { blocks: [60] } })).status,
      200,
    );
    const degraded = parse(
      await program.waitForLog((l) => logMessage(l) === "target state changed" && parse(l).to === "degraded"),
    );
    assert.equal(degraded.level, "warn");
    assert.equal(degraded.target, "loud");
    assert.equal(degraded.from, "healthy");
    assert.match(degraded.reason ?? "", /1 pending blocks/);

    assert.equal((await api(apiSocket, "DELETE", "/v1/targets/loud/pending/60")).status, 200);
    const healthy = parse(
      await program.waitForLog((l) => logMessage(l) === "target state changed" && parse(l).to === "healthy"),
    );
    assert.equal(healthy.level, "warn");
    assert.equal(healthy.from, "degraded");

    const metrics = parsePrometheus((await api(apiSocket, "GET", "/metrics")).text);
    assert.equal(
      sampleValue(metrics, "dmremap_state_changes_total", { target: "loud", state: "degraded" }),
      1,
    );
    assert.equal(
      sampleValue(metrics, "dmremap_state_changes_total", { target: "loud", state: "healthy" }),
      1,
    );
    assert.equal(await program.stop("SIGTERM"), 0);
    program = undefined;
  } finally {
    await program?.stop("SIGKILL");
    await dir.cleanup();
  }
});

test("SIGTERM with the NBD main gone ends within the shutdown bound, logs what was not flushed, exits 1", async () => {
  await requireTools("nbdkit", "nbdsh");
  const dir = await tempDir();
  let program: RunningProgram | undefined;
  let nbdkit: HelperProcess | undefined;
  try {
    const mainSocket = join(dir.path, "main.sock");
    nbdkit = await startNbdkit(mainSocket, ["memory", "16M"]);
    const mainUri = `nbd+unix:///?socket=${mainSocket}`;
    const spare = await sparseFile(join(dir.path, "spare.img"), 2 * MiB);
    assert.equal((await runCli(["create", "--main", mainUri, "--spare", spare, "--name", "remote"])).code, 0);
    const socket = join(dir.path, "nbd.sock");
    const config = join(dir.path, "dmremap.toml");
    await writeFile(
      config,
      `[daemon]
shutdown_timeout = "2s"
[api]
listen = "unix:${dir.path}/api.sock"
[nbd]
listen = ["unix:${socket}"]
[[target]]
name = "remote"
main = "${mainUri}"
spares = ["${spare}"]
`,
    );
    program = await startProgram(["serve", "--config", config]);
    assert.ok(readyAddresses(program).nbd.length > 0);
    const write = await nbdsh(nbdUnixUri(socket, "remote"), "h.pwrite(b'x' * 4096, 8192)");
    assert.equal(write.code, 0, write.stderr);

    assert.equal(await nbdkit.stop("SIGKILL"), null);
    nbdkit = undefined;
    // Without the bound the flush waits for main to come back; the harness would SIGKILL after 30 s.
    const code = await program.stop("SIGTERM", 30_000);
    const lines = program.logLines.map(parse);
    program = undefined;
    assert.equal(code, 1, "an incomplete shutdown exits 1");
    const unflushed = lines.find(
      (l) => l.msg?.startsWith("could not flush") || l.msg === "flush on shutdown failed",
    );
    assert.ok(unflushed, "the log says what could not be flushed");
    assert.equal(unflushed.target, "remote");
    assert.ok(
      lines.some((l) => l.msg === "stopped, but not cleanly"),
      "the last line says the stop was not clean",
    );
  } finally {
    await program?.stop("SIGKILL");
    await nbdkit?.stop("SIGKILL");
    await dir.cleanup();
  }
});
