// `serve --token-file` enables changes over a TCP API: online remap works with the token (flag or
// DMREMAP_TOKEN) and is refused without it; a wrong token is refused too.
import { test } from "node:test";
import assert from "node:assert/strict";
import { chmod, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  CLI,
  readyAddresses,
  run,
  runCli,
  startProgram,
  tempDir,
  TOOL_ENV,
  type RunningProgram,
} from "./harness.js";
import { sparseFile } from "./tools.js";

test("serve --token-file: remap over TCP needs the token, from --token-file or DMREMAP_TOKEN", async () => {
  const dir = await tempDir();
  let program: RunningProgram | undefined;
  try {
    const main = await sparseFile(join(dir.path, "main.img"), 8 << 20);
    const spare = await sparseFile(join(dir.path, "spare.img"), 2 << 20);
    assert.equal((await runCli(["create", "--main", main, "--spare", spare, "--name", "tok"])).code, 0);
    const tokenFile = join(dir.path, "token");
    const token = "serve-token-test-0123456789";
    await writeFile(tokenFile, `${token}\n`);
    await chmod(tokenFile, 0o600);
    program = await startProgram([
      "serve",
      "--spare",
      spare,
      "--listen",
      `unix:${join(dir.path, "nbd.sock")}`,
      "--api",
      "tcp:127.0.0.1:0",
      "--token-file",
      tokenFile,
    ]);
    const { api } = readyAddresses(program);
    // No token source at all: no DMREMAP_TOKEN, no config, no demo data directory.
    const bare = {
      ...TOOL_ENV,
      DMREMAP_TOKEN: "",
      DMREMAP_CONFIG: join(dir.path, "none.toml"),
      DMREMAP_DATA: join(dir.path, "no-demo"),
    };
    const cli = (args: string[], env: NodeJS.ProcessEnv) => run(process.execPath, [CLI, ...args], { env });
    const refused = await cli(["remap", "--api", api, "3"], bare);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /Authorization: Bearer/);
    const withFlag = await cli(["remap", "--api", api, "--token-file", tokenFile, "3"], bare);
    assert.equal(withFlag.code, 0, withFlag.stderr);
    assert.equal(withFlag.stdout, "block 3: remap requested\n");
    const withEnv = await cli(["remap", "--api", api, "4"], { ...bare, DMREMAP_TOKEN: token });
    assert.equal(withEnv.code, 0, withEnv.stderr);
    const wrong = await cli(["remap", "--api", api, "5"], { ...bare, DMREMAP_TOKEN: "not-the-token-at-all" });
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /token is wrong/);
    const listed = await cli(["list", "--api", api, "--json"], bare);
    assert.deepEqual(
      (JSON.parse(listed.stdout) as { entries: { block: number }[] }).entries.map((r) => r.block),
      [3, 4],
    );
    assert.equal(await program.stop("SIGTERM"), 0);
    program = undefined;
  } finally {
    await program?.stop("SIGKILL");
    await dir.cleanup();
  }
});
