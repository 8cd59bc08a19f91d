// End-to-end: errors a user can cause against the real daemon answer with their own code and a 4xx
// (HTTP) or exit 1 with a clear message (CLI), never 500 "internal error"; none is logged as a bug.
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { runCli, startProgram, tempDir, type RunningProgram } from "./harness.js";
import { api, sparseFile } from "./tools.js";

test("user errors over the API and the online CLI: own code, 4xx / exit 1, clear message", async () => {
  const dir = await tempDir();
  let program: RunningProgram | undefined;
  try {
    await sparseFile(join(dir.path, "main.img"), 16 << 20);
    await sparseFile(join(dir.path, "spare.img"), 2 << 20);
    const apiSocket = join(dir.path, "api.sock");
    const config = join(dir.path, "dmremap.toml");
    await writeFile(
      config,
      `[api]
listen = "unix:${apiSocket}"
[nbd]
listen = ["unix:${join(dir.path, "nbd.sock")}"]
[[target]]
name = "u"
main = "${dir.path}/main.img"
spares = ["${dir.path}/spare.img"]
create = true
`,
    );
    const base = `unix:${apiSocket}`;
    program = await startProgram(["serve", "--config", config]);

    const problem = async (path: string, blocks: number[], status: number, code: string, detail: RegExp) => {
      const answer = await api(base, "POST", path, { body: { blocks } });
      assert.equal(answer.status, status, answer.text);
      assert.equal(answer.contentType, "application/problem+json");
      const body = answer.json as { code: string; detail: string };
      assert.equal(body.code, code);
      assert.match(body.detail, detail);
    };
    await problem("/v1/targets/u/unremap", [7], 409, "EBLOCKSTATE", /block 7: is not remapped/);
    assert.equal((await api(base, "POST", "/v1/targets/u/remap", { body: { blocks: [3] } })).status, 200);
    await problem(
      "/v1/targets/u/pending",
      [3],
      409,
      "EBLOCKSTATE",
      /block 3: is remapped; its data is known/,
    );
    await problem("/v1/targets/u/remap", [1 << 30], 400, "EBADREQUEST", /1073741824/);

    const cli = await runCli(["unremap", "--api", base, "7"]);
    assert.equal(cli.code, 1, cli.stderr);
    assert.match(cli.stderr, /block 7: is not remapped/);
    assert.doesNotMatch(cli.stderr, /internal error/);

    const usage = await runCli(["unremap", "--api", base]);
    assert.equal(usage.code, 2, usage.stderr);
    assert.match(usage.stderr, /give at least one BLOCK number/);

    const errors = program.logLines.filter((l) => /"level":"error"/.test(l));
    assert.deepEqual(errors, [], "user errors are not logged as bugs");
  } finally {
    await program?.stop();
    await dir.cleanup();
  }
});
