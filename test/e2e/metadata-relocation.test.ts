// End-to-end: a served single-spare set whose spare has bad sectors (the dust fault layer in the
// spare's spec) under its head checkpoint slot and under a tail journal sector: the daemon moves
// both structures to their relocation areas, says so in status, keeps every remap, and the set
// checks clean afterwards.
import { test } from "node:test";
import assert from "node:assert/strict";
import { open } from "node:fs/promises";
import { join } from "node:path";
import { endGeometry } from "../../src/metadata/layout.js";
import { decodeSuperblock } from "../../src/metadata/superblock.js";
import { cliJson, readyAddresses, runCli, startProgram, tempDir, type RunningProgram } from "./harness.js";
import { sparseFile } from "./tools.js";

interface Status {
  state: string;
  metadata: { copies: { state: string; detail?: string; relocated?: string[] }[] };
}

test("bad sectors under a checkpoint slot and a journal sector while serving: relocated, nothing lost", async () => {
  const dir = await tempDir();
  let program: RunningProgram | undefined;
  try {
    const main = await sparseFile(join(dir.path, "main.img"), 16 << 20);
    const spare = await sparseFile(join(dir.path, "spare.img"), 4 << 20);
    const created = await runCli(["create", "--main", main, "--spare", spare, "--name", "reloc"]);
    assert.equal(created.code, 0, created.stderr);
    const h = await open(spare, "r");
    const head = new Uint8Array(4096);
    await h.read(head, 0, 4096, 0);
    await h.close();
    const sb = decodeSuperblock(head);
    assert.ok(sb.ok);
    const bad = [
      endGeometry(sb.sb.layout, "head", 4 << 20).slot / 512,
      endGeometry(sb.sb.layout, "tail", 4 << 20).journal / 512,
    ];
    const badSpare = `dust:block-size=512,block=${bad[0]},block=${bad[1]}:${spare}`;
    program = await startProgram([
      "serve",
      "--spare",
      badSpare,
      "--listen",
      `unix:${join(dir.path, "nbd.sock")}`,
      "--api",
      `unix:${join(dir.path, "api.sock")}`,
    ]);
    const { api } = readyAddresses(program);
    const remapped = await runCli(["remap", "--api", api, "5", "9"]);
    assert.equal(remapped.code, 0, remapped.stderr);
    const [status] = await cliJson<Status[]>(["status", "--api", api, "--json"]);
    const copy = status!.metadata.copies[0]!;
    assert.equal(copy.state, "ok", JSON.stringify(copy));
    assert.deepEqual(copy.relocated, ["head checkpoint slot", "tail journal"]);
    assert.match(copy.detail ?? "", /moved to the relocation area: head checkpoint slot, tail journal/);
    assert.equal(await program.stop("SIGTERM"), 0);
    program = undefined;

    for (const spec of [badSpare, spare]) {
      const listing = await cliJson<{ entries: { block: number }[] }>(["list", "--spare", spec]);
      assert.deepEqual(
        listing.entries.map((e) => e.block),
        [5, 9],
        spec,
      );
      const check = await runCli(["check", "--spare", spec]);
      assert.equal(check.code, 0, `${spec}: ${check.stdout}${check.stderr}`);
    }
  } finally {
    await program?.stop("SIGKILL");
    await dir.cleanup();
  }
});
