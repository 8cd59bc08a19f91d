// End-to-end: SIGHUP re-reads the config file. A broken file is reported (naming the key) and the
// daemon keeps serving; a valid one applies its log_level live, as the daemon's log line says.
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { logMessage, run, startProgram, tempDir, type RunningProgram } from "./harness.js";
import { api, nbdUnixUri, requireTools, sparseFile } from "./tools.js";

function configText(dir: string, extraDaemon: string): string {
  return `[daemon]
${extraDaemon}
[api]
listen = "unix:${dir}/api.sock"
[nbd]
listen = ["unix:${dir}/nbd.sock"]
[[target]]
name = "hup"
main = "${dir}/main.img"
spares = ["${dir}/spare.img"]
create = true
`;
}

function levelOf(line: string): string | undefined {
  try {
    return (JSON.parse(line) as { level?: string }).level;
  } catch {
    return undefined;
  }
}

/** Start a daemon from a fresh config in `dir`; returns it with its config path and NBD URI. */
async function startWithConfig(
  dir: string,
): Promise<{ program: RunningProgram; config: string; uri: string }> {
  await sparseFile(join(dir, "main.img"), 16 << 20);
  await sparseFile(join(dir, "spare.img"), 2 << 20);
  const config = join(dir, "dmremap.toml");
  await writeFile(config, configText(dir, `log_level = "info"`));
  const program = await startProgram(["serve", "--config", config]);
  return { program, config, uri: nbdUnixUri(join(dir, "nbd.sock"), "hup") };
}

test("SIGHUP right after ready with a broken config: refused, naming the key; the daemon keeps serving", async () => {
  await requireTools("nbdinfo");
  const dir = await tempDir();
  let program: RunningProgram | undefined;
  try {
    const started = await startWithConfig(dir.path);
    program = started.program;
    await writeFile(started.config, configText(dir.path, `log_level = "loud"`));
    program.child.kill("SIGHUP");
    const refused = await program.waitForLog((l) => logMessage(l) === "SIGHUP: config not reloaded");
    assert.ok(refused.includes("daemon.log_level"), `the error names the key: ${refused}`);
    const health = await api(`unix:${join(dir.path, "api.sock")}`, "GET", "/healthz");
    assert.equal(health.status, 200, "the API still answers");
    const size = await run("nbdinfo", ["--size", started.uri], { timeoutMs: 30_000 });
    assert.equal(size.stdout.trim(), String(16 << 20), `NBD still serves: ${size.stderr}`);
    assert.equal(await program.stop("SIGTERM"), 0);
    program = undefined;
  } finally {
    await program?.stop("SIGKILL");
    await dir.cleanup();
  }
});

test("SIGHUP applies a new log_level live (info -> warn drops info lines)", async () => {
  await requireTools("nbdinfo");
  const dir = await tempDir();
  let program: RunningProgram | undefined;
  try {
    const started = await startWithConfig(dir.path);
    program = started.program;
    await writeFile(started.config, configText(dir.path, `log_level = "warn"`));
    program.child.kill("SIGHUP");
    const applied = await program.waitForLog((l) =>
      (logMessage(l) ?? "").startsWith("SIGHUP: config re-read"),
    );
    const size = await run("nbdinfo", ["--size", started.uri], { timeoutMs: 30_000 });
    assert.equal(size.code, 0, size.stderr);
    assert.equal(await program.stop("SIGTERM"), 0);
    const after = program.logLines.slice(program.logLines.indexOf(applied) + 1);
    program = undefined;
    // Lifecycle lines (ready, stopping, stopped) are logged at every level by design.
    const lifecycle = new Set(["ready", "stopping", "stopped"]);
    const infoAfter = after.filter(
      (l) => (levelOf(l) === "info" || levelOf(l) === "debug") && !lifecycle.has(logMessage(l) ?? ""),
    );
    assert.deepEqual(infoAfter, [], "after reloading log_level = warn, no info lines are logged");
    assert.ok(
      after.some((l) => logMessage(l) === "stopped"),
      "the lifecycle line 'stopped' is still logged",
    );
  } finally {
    await program?.stop("SIGKILL");
    await dir.cleanup();
  }
});
