// End-to-end: a set with two spares serves with one removed: every block not on it intact (fio
// verify), its blocks EIO until rewritten, status `degraded` naming it and counting the unavailable
// blocks, metrics too; putting it back repairs it. And the main identity: another device of the
// same size is refused until `set-main` records the deliberate change.
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFile, rename } from "node:fs/promises";
import { join } from "node:path";
import { cliJson, runCli, startProgram, tempDir, type RunningProgram } from "./harness.js";
import {
  api,
  fio,
  nbdsh,
  nbdUnixUri,
  parsePrometheus,
  requireTools,
  sampleValue,
  sparseFile,
} from "./tools.js";

const MiB = 1 << 20;
const BS = 4096;
const BLOCKS = 4096;
/** Blocks remapped through the API: more than the first spare holds, so both spares get some. */
const REMAPPED = 500;

/** fio over blocks [first, first + count): write (with a verify header) or verify only. */
function fioRange(uri: string, first: number, count: number, mode: "write" | "verify") {
  return fio(uri, [
    `--name=r${first}`,
    "--rw=write",
    `--bs=${BS}`,
    `--offset=${first * BS}`,
    `--size=${count * BS}`,
    "--verify=crc32c",
    ...(mode === "verify" ? ["--verify_only"] : ["--do_verify=0"]),
  ]);
}

async function readErrno(uri: string, block: number): Promise<string> {
  const r = await nbdsh(
    uri,
    `
try:
    h.pread(${BS}, ${block} * ${BS})
    print("ok")
except nbd.Error as e:
    print("errno", e.errno)
`,
  );
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim();
}

interface Status {
  state: string;
  reason?: string;
  missingSpares: { index: number; lastKnownDevice?: string }[];
  unavailableBlocks: number;
}

test("degraded: one of two spares missing; its blocks EIO until rewritten; its return repairs it", async () => {
  await requireTools("fio", "nbdsh");
  const dir = await tempDir();
  let program: RunningProgram | undefined;
  try {
    const main = await sparseFile(join(dir.path, "main.img"), BLOCKS * BS);
    const spareA = await sparseFile(join(dir.path, "a.img"), 1 * MiB);
    const spareB = await sparseFile(join(dir.path, "b.img"), 2 * MiB);
    assert.equal(
      (await runCli(["create", "--main", main, "--spare", spareA, "--spare", spareB, "--name", "deg"])).code,
      0,
    );
    const apiSocket = `unix:${join(dir.path, "api.sock")}`;
    const socket = join(dir.path, "nbd.sock");
    const uri = nbdUnixUri(socket, "deg");
    const serve = (spares: string[]) =>
      startProgram([
        "serve",
        ...spares.flatMap((s) => ["--spare", s]),
        "--listen",
        `unix:${socket}`,
        "--api",
        apiSocket,
      ]);

    program = await serve([spareA, spareB]);
    await fioRange(uri, 0, BLOCKS, "write");
    const blocks = Array.from({ length: REMAPPED }, (_, i) => i);
    const remap = await api(apiSocket, "POST", "/v1/targets/deg/remap", { body: { blocks } });
    assert.equal(remap.status, 200, remap.text);
    // Free a few slots on spare a, so a rewrite while b is missing has somewhere to go.
    const unremap = await api(apiSocket, "POST", "/v1/targets/deg/unremap", {
      body: { blocks: [0, 1, 2, 3] },
    });
    assert.equal(unremap.status, 200, unremap.text);
    assert.equal(await program.stop("SIGTERM"), 0);
    program = undefined;

    const listing = await cliJson<{ entries: { block: number; spare: number }[] }>([
      "list",
      "--spare",
      spareA,
      "--spare",
      spareB,
    ]);
    const onB = listing.entries.filter((e) => e.spare === 1).map((e) => e.block);
    assert.ok(onB.length > 10 && onB.length < REMAPPED, `both spares hold blocks (${onB.length} on b)`);
    const firstOnB = Math.min(...onB);
    assert.deepEqual(
      onB,
      Array.from({ length: REMAPPED - firstOnB }, (_, i) => firstOnB + i),
    );

    // Spare b is gone: the set still opens and serves.
    program = await serve([spareA]);
    const status = (await api(apiSocket, "GET", "/v1/targets/deg")).json as Status;
    assert.equal(status.state, "degraded");
    assert.deepEqual(
      status.missingSpares.map((m) => m.index),
      [1],
    );
    assert.match(status.reason ?? "", /spare 1 .*missing: \d+ blocks unavailable/);
    assert.equal(status.unavailableBlocks, onB.length);
    const metrics = parsePrometheus((await api(apiSocket, "GET", "/metrics")).text);
    assert.equal(sampleValue(metrics, "dmremap_spares_missing", { target: "deg" }), 1);
    assert.equal(sampleValue(metrics, "dmremap_unavailable_blocks", { target: "deg" }), onB.length);

    await fioRange(uri, 0, firstOnB, "verify");
    await fioRange(uri, REMAPPED, BLOCKS - REMAPPED, "verify");
    for (const block of [firstOnB, REMAPPED - 1])
      assert.equal(await readErrno(uri, block), "errno EIO", `block ${block}`);
    // A rewrite remaps the block onto the present spare: readable again.
    const rewritten = REMAPPED - 1;
    await fioRange(uri, rewritten, 1, "write");
    await fioRange(uri, rewritten, 1, "verify");
    const after = (await api(apiSocket, "GET", "/v1/targets/deg")).json as Status;
    assert.equal(after.unavailableBlocks, onB.length - 1);
    assert.equal(await program.stop("SIGTERM"), 0);
    program = undefined;

    // Spare b is back: the newer generation wins, its stale copy is repaired, its blocks are back.
    program = await serve([spareA, spareB]);
    const repaired = (await api(apiSocket, "GET", "/v1/targets/deg")).json as Status;
    assert.equal(repaired.state, "healthy", JSON.stringify(repaired));
    assert.deepEqual(repaired.missingSpares, []);
    await fioRange(uri, 0, BLOCKS, "verify");
    assert.equal(await program.stop("SIGTERM"), 0);
    program = undefined;
    const check = await runCli(["check", "--spare", spareA, "--spare", spareB]);
    assert.equal(check.code, 0, check.stdout + check.stderr);
  } finally {
    await program?.stop("SIGKILL");
    await dir.cleanup();
  }
});

test("main identity: a copy of the main is refused until set-main records it; a rename is fine", async () => {
  const dir = await tempDir();
  try {
    const main = await sparseFile(join(dir.path, "main.img"), 16 * MiB);
    const spare = await sparseFile(join(dir.path, "spare.img"), 2 * MiB);
    assert.equal((await runCli(["create", "--main", main, "--spare", spare, "--name", "who"])).code, 0);
    const copy = join(dir.path, "copy.img");
    await copyFile(main, copy);

    for (const args of [
      ["status", "--spare", spare, "--main", copy],
      ["list", "--spare", spare, "--main", copy],
      ["remap", "--spare", spare, "--main", copy, "1"],
    ]) {
      const r = await runCli(args);
      assert.equal(r.code, 1, `${args[0]}: ${r.stdout}`);
      assert.match(r.stderr, /is not the recorded one/, `${args[0]}: ${r.stderr}`);
      assert.match(r.stderr, /expected file .*main\.img .*found file .*copy\.img/, r.stderr);
    }
    const checked = await runCli(["check", "--spare", spare, "--main", copy]);
    assert.equal(checked.code, 1, "check reports the wrong main");
    assert.match(checked.stdout, /main .*copy\.img: mismatch \(not the recorded main/, checked.stdout);
    assert.equal((await runCli(["check", "--spare", spare])).code, 0, "the recorded main checks ok");
    const served = await runCli(
      [
        "serve",
        "--spare",
        spare,
        "--main",
        copy,
        "--listen",
        `unix:${dir.path}/nbd.sock`,
        "--api",
        `unix:${dir.path}/api.sock`,
      ],
      { timeoutMs: 30_000 },
    );
    assert.equal(served.code, 1, served.stderr);
    assert.match(served.stderr, /is not the recorded one/);

    const set = await runCli(["set-main", "--spare", spare, "--main", copy]);
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, /recorded as file .*copy\.img .*\(was file .*main\.img/);
    assert.equal(
      (await runCli(["status", "--spare", spare, "--main", copy])).code,
      0,
      "the new main is accepted",
    );
    const old = await runCli(["status", "--spare", spare, "--main", main]);
    assert.equal(old.code, 1, "the old main is now the wrong one");

    // A rename keeps device + inode: still the same main.
    const renamed = join(dir.path, "renamed.img");
    await rename(copy, renamed);
    const status = await runCli(["status", "--spare", spare, "--main", renamed]);
    assert.equal(status.code, 0, status.stderr);
  } finally {
    await dir.cleanup();
  }
});
