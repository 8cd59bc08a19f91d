// End-to-end: `dmremap fault list|add|clear` against the real daemon. Rules from the config and from
// the CLI (spec text and JSON) make real NBD reads fail (nbdsh); bad rules are refused naming the
// field; clearing them lets I/O through again.
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { runCli, startProgram, tempDir, type RunningProgram } from "./harness.js";
import { nbdsh, nbdUnixUri, requireTools, sparseFile } from "./tools.js";

/** nbdsh: "data same|differs" for a read of `block` against `fill`, or "errno E". */
async function read(uri: string, block: number, fill: number): Promise<string> {
  const result = await nbdsh(
    uri,
    `
try:
    print("data", "same" if h.pread(4096, ${block} * 4096) == bytes([${fill}]) * 4096 else "differs")
except nbd.Error as e:
    print("errno", e.errno)
`,
  );
  assert.equal(result.code, 0, result.stderr);
  return result.stdout.trim();
}

async function write(uri: string, block: number, fill: number): Promise<void> {
  const result = await nbdsh(uri, `h.pwrite(bytes([${fill}]) * 4096, ${block} * 4096, nbd.CMD_FLAG_FUA)`);
  assert.equal(result.code, 0, result.stderr);
}

test("dmremap fault: add rules to a running target, see reads fail, list and clear them", async () => {
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
name = "lab"
main = "${dir.path}/main.img"
spares = ["${dir.path}/spare.img"]
create = true
[target.policy]
read_retries = 0
[target.faults]
enabled = true
[target.faults.grow]
events = ["0ms@60"]
`,
    );
    program = await startProgram(["serve", "--config", config]);
    const uri = nbdUnixUri(socket, "lab");
    const api = ["--api", `unix:${apiSocket}`];
    const cli = async (...args: string[]) => {
      const result = await runCli(["fault", ...args, ...api]);
      return { ...result, out: result.stdout + result.stderr };
    };

    const initial = await cli("list", "lab");
    assert.equal(initial.code, 0, initial.out);
    assert.match(initial.stdout, /^lab: 1 fault rule\n +1 {2}grow:block-size=4K,event=0ms@60,/);
    assert.equal(await read(uri, 60, 0), "errno EIO", "the config's grow rule fails reads of block 60");

    await write(uri, 20, 0x42);
    await write(uri, 40, 0x43);
    assert.equal(await read(uri, 20, 0x42), "data same");
    const added = await cli("add", "lab", "dust:block=20", '{"kind":"slow","blocks":[40],"attempts":1000}');
    assert.equal(added.code, 0, added.out);
    assert.equal(
      added.stdout,
      "lab: added rule 2: dust:block-size=4K,block=20\n" +
        "lab: added rule 3: slow:block-size=4K,block=40,delay=0ms,attempts=1000\n",
    );
    assert.equal(await read(uri, 20, 0x42), "errno EIO", "a read of the dust block fails with EIO");
    assert.equal(await read(uri, 40, 0x43), "errno EIO", "a read of the weak block fails with EIO");
    assert.equal(await read(uri, 21, 0), "data same", "other blocks read fine");

    const text = await cli("list");
    assert.equal(text.code, 0, text.out);
    assert.match(text.stdout, /^lab: 3 fault rules\n/);
    assert.match(text.stdout, /\n +2 {2}dust:block-size=4K,block=20\n/);
    assert.match(text.stdout, /injected: .*dustReadErrors [1-9]/);
    const json = await cli("list", "lab", "--json");
    assert.equal(json.code, 0, json.out);
    const listed = JSON.parse(json.stdout) as {
      rules: { id: number; kind: string }[];
      status: Record<string, number>;
    };
    assert.deepEqual(
      listed.rules.map((r) => [r.id, r.kind]),
      [
        [1, "grow"],
        [2, "dust"],
        [3, "slow"],
      ],
    );
    assert.ok(listed.status.slowReadErrors! >= 1, JSON.stringify(listed.status));

    const badSpec = await cli("add", "lab", "random:read=2");
    assert.equal(badSpec.code, 2, badSpec.out);
    assert.match(badSpec.stderr, /random option "read": "2" is not a rate between 0 and 1/);
    const badJson = await cli("add", "lab", '{"kind":"random","readErrorRate":0.5}');
    assert.equal(badJson.code, 1, badJson.out);
    assert.match(badJson.stderr, /unknown random option "readErrorRate" \(known: read, write, flush, seed\)/);
    const outside = await cli("add", "lab", "dust:block=5000");
    assert.equal(outside.code, 1, outside.out);
    assert.match(outside.stderr, /dust block 5000 is not inside the device \(4096 blocks of 4096 bytes\)/);
    const noVerb = await cli("zap", "lab");
    assert.equal(noVerb.code, 2, noVerb.out);
    assert.match(noVerb.stderr, /fault needs a verb: list, add, clear \(got "zap"\)/);

    const cleared = await cli("clear", "lab");
    assert.equal(cleared.code, 0, cleared.out);
    assert.equal(cleared.stdout, "lab: cleared 3 fault rules\n");
    assert.match((await cli("list", "lab")).stdout, /^lab: 0 fault rules\n/);
    await write(uri, 20, 0x44);
    assert.equal(await read(uri, 20, 0x44), "data same", "with the rules gone, I/O goes through");
    await write(uri, 40, 0x45);
    assert.equal(await read(uri, 40, 0x45), "data same");
    assert.equal(await program.stop("SIGTERM"), 0);
    program = undefined;
  } finally {
    await program?.stop("SIGKILL");
    await dir.cleanup();
  }
});
