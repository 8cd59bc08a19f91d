// End-to-end: unreadable blocks become pending (promise 3): reads fail with EIO, never stale data, even
// after main recovers and across a restart, until the block is written or the pending mark is cleared.
// Drives the runtime fault API and the pending API over the API's Unix socket (no token needed there).
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { cliJson, startProgram, tempDir, type RunningProgram } from "./harness.js";
import { api, nbdsh, nbdUnixUri, requireTools, sparseFile } from "./tools.js";

/** nbdsh: print "data same|differs" for a read of `block` against its pattern, or "errno E". */
function readScript(block: number, fill: number): string {
  return `
try:
    print("data", "same" if h.pread(4096, ${block} * 4096) == bytes([${fill}]) * 4096 else "differs")
except nbd.Error as e:
    print("errno", e.errno)
`;
}

async function read(uri: string, block: number, fill: number): Promise<string> {
  const result = await nbdsh(uri, readScript(block, fill));
  assert.equal(result.code, 0, result.stderr);
  return result.stdout.trim();
}

async function write(uri: string, block: number, fill: number): Promise<void> {
  const result = await nbdsh(uri, `h.pwrite(bytes([${fill}]) * 4096, ${block} * 4096, nbd.CMD_FLAG_FUA)`);
  assert.equal(result.code, 0, result.stderr);
}

async function call(base: string, method: string, path: string, body?: unknown): Promise<unknown> {
  const answer = await api(base, method, path, body === undefined ? {} : { body });
  assert.ok(
    answer.status >= 200 && answer.status < 300,
    `${method} ${path}: ${answer.status} ${answer.text}`,
  );
  return answer.json;
}

test("pending blocks: EIO until written or cleared, persistent across restart", async () => {
  await requireTools("nbdsh");
  const dir = await tempDir();
  let program: RunningProgram | undefined;
  try {
    await sparseFile(join(dir.path, "main.img"), 16 << 20);
    await sparseFile(join(dir.path, "spare.img"), 2 << 20);
    const apiSocket = join(dir.path, "api.sock");
    const socket = join(dir.path, "nbd.sock");
    const config = join(dir.path, "dmremap.toml");
    await writeFile(
      config,
      `[api]
listen = "unix:${apiSocket}"
[nbd]
listen = ["unix:${socket}"]
[[target]]
name = "p"
main = "${dir.path}/main.img"
spares = ["${dir.path}/spare.img"]
create = true
[target.policy]
read_retries = 2
read_retry_budget = "1s"
retry_pending_reads = false
[target.faults]
enabled = true
`,
    );
    const base = `unix:${apiSocket}`;
    const uri = nbdUnixUri(socket, "p");
    program = await startProgram(["serve", "--config", config]);

    await write(uri, 50, 0x42);
    await call(base, "POST", "/v1/targets/p/faults", { kind: "random", read: 1, seed: 5 });
    assert.equal(await read(uri, 50, 0x42), "errno EIO", "every read of main fails: EIO");
    assert.deepEqual(await call(base, "GET", "/v1/targets/p/pending"), { blocks: [50] });
    assert.deepEqual(await call(base, "DELETE", "/v1/targets/p/faults"), { rules: [] });
    assert.equal(
      await read(uri, 50, 0x42),
      "errno EIO",
      "a pending block stays unreadable after main recovers",
    );

    assert.equal(await program.stop("SIGTERM"), 0);
    program = undefined;
    const offline = await cliJson<{ pendingBlocks: number }>([
      "status",
      "--spare",
      join(dir.path, "spare.img"),
    ]);
    assert.equal(offline.pendingBlocks, 1, "the pending mark is persistent");

    program = await startProgram(["serve", "--config", config]);
    assert.equal(await read(uri, 50, 0x42), "errno EIO", "still pending after a restart");
    await call(base, "DELETE", "/v1/targets/p/pending/50");
    assert.equal(await read(uri, 50, 0x42), "data same", "cleared by the administrator: main's data again");

    await write(uri, 60, 0x17);
    await call(base, "POST", "/v1/targets/p/pending", { blocks: [60] });
    assert.equal(await read(uri, 60, 0x17), "errno EIO", "marked pending through the API");
    await write(uri, 60, 0x18);
    assert.equal(await read(uri, 60, 0x18), "data same", "a write makes a pending block readable");
    assert.deepEqual(await call(base, "GET", "/v1/targets/p/pending"), { blocks: [] });
    assert.equal(await program.stop("SIGTERM"), 0);
    program = undefined;
  } finally {
    await program?.stop("SIGKILL");
    await dir.cleanup();
  }
});
