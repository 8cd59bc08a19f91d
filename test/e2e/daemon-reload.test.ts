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

test("SIGHUP: a broken config is refused and the daemon keeps serving; log_level applies live", async () => {
  await requireTools("nbdinfo");
  const dir = await tempDir();
  let program: RunningProgram | undefined;
  try {
    await sparseFile(join(dir.path, "main.img"), 16 << 20);
    await sparseFile(join(dir.path, "spare.img"), 2 << 20);
    const config = join(dir.path, "dmremap.toml");
    await writeFile(config, configText(dir.path, `log_level = "info"`));
    program = await startProgram(["serve", "--config", config]);
    const uri = nbdUnixUri(join(dir.path, "nbd.sock"), "hup");

    await writeFile(config, configText(dir.path, `log_level = "loud"`));
    program.child.kill("SIGHUP");
    const refused = await program.waitForLog((l) => logMessage(l) === "SIGHUP: config not reloaded");
    assert.ok(refused.includes("daemon.log_level"), `the error names the key: ${refused}`);
    const health = await api(`unix:${join(dir.path, "api.sock")}`, "GET", "/healthz");
    assert.equal(health.status, 200, "the API still answers");
    const size = await run("nbdinfo", ["--size", uri], { timeoutMs: 30_000 });
    assert.equal(size.stdout.trim(), String(16 << 20), `NBD still serves: ${size.stderr}`);

    await writeFile(config, configText(dir.path, `log_level = "warn"`));
    program.child.kill("SIGHUP");
    const applied = await program.waitForLog((l) =>
      (logMessage(l) ?? "").startsWith("SIGHUP: config re-read"),
    );
    const size2 = await run("nbdinfo", ["--size", uri], { timeoutMs: 30_000 });
    assert.equal(size2.code, 0, size2.stderr);
    assert.equal(await program.stop("SIGTERM"), 0);
    const after = program.logLines.slice(program.logLines.indexOf(applied) + 1);
    program = undefined;
    const infoAfter = after.filter((l) => levelOf(l) === "info" || levelOf(l) === "debug");
    assert.deepEqual(infoAfter, [], "after reloading log_level = warn, no info lines are logged");
  } finally {
    await program?.stop("SIGKILL");
    await dir.cleanup();
  }
});
