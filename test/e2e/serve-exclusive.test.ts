// End-to-end: a set is used by one process at a time. While `dmremap serve` has it open, a second
// serve and the offline commands that write metadata must be refused, naming the busy device;
// otherwise two writers overwrite each other's metadata and acknowledged remaps vanish.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { cliJson, runCli, startProgram, tempDir, type RunningProgram } from "./harness.js";
import { sparseFile } from "./tools.js";

test("a served set is refused to a second serve and to offline remap", async () => {
  const dir = await tempDir();
  const started: RunningProgram[] = [];
  try {
    const main = await sparseFile(join(dir.path, "main.img"), 16 << 20);
    const spare = await sparseFile(join(dir.path, "spare.img"), 2 << 20);
    assert.equal((await runCli(["create", "--main", main, "--spare", spare, "--name", "solo"])).code, 0);
    const serveArgs = (sock: string) => [
      "serve",
      "--spare",
      spare,
      "--listen",
      `unix:${join(dir.path, sock)}`,
      "--api",
      "tcp:127.0.0.1:0",
    ];
    started.push(await startProgram(serveArgs("a.sock")));

    let second: RunningProgram | Error;
    try {
      second = await startProgram(serveArgs("b.sock"));
      started.push(second);
    } catch (err) {
      second = err as Error;
    }
    assert.ok(second instanceof Error, "a second serve of the same spares must not get ready");
    assert.ok(second.message.includes(spare), `the refusal names the busy spare:\n${second.message}`);

    const remap = await runCli(["remap", "--spare", spare, "7"]);
    assert.notEqual(remap.code, 0, `offline remap of a served set must be refused: ${remap.stdout}`);
    assert.ok(remap.stderr.includes(spare), `the refusal names the busy spare: ${remap.stderr}`);

    for (const p of started.splice(0)) assert.equal(await p.stop("SIGTERM"), 0);
    const listing = await cliJson<{ entries: unknown[] }>(["list", "--spare", spare]);
    assert.deepEqual(listing.entries, [], "nothing was remapped behind the daemon's back");
  } finally {
    for (const p of started) await p.stop("SIGKILL");
    await dir.cleanup();
  }
});
