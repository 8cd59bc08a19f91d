// End-to-end: removing a spare that is not the last one. A set served with three spares, blocks on
// all of them; the middle one is refused while it holds blocks (with the count), drained, removed
// online (it stays in the spare table as a tombstone, so no slot number changes); the export reads
// the same before and after, and after a restart with only the two remaining spares.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { cliJson, runCli, startProgram, tempDir, type RunningProgram } from "./harness.js";
import { call, digest, liveSet, type SpareRow } from "./spare-support.js";
import { nbdsh, requireTools, sparseFile } from "./tools.js";

test("spare remove online: a middle spare leaves after a drain; the set restarts with the other two", async () => {
  await requireTools("nbdsh");
  const dir = await tempDir();
  let program: RunningProgram | undefined;
  try {
    const { s0, s1, config, write, base, uri, online } = await liveSet(dir.path);
    const s2 = await sparseFile(join(dir.path, "s2.img"), 2 << 20);
    await write([s0, s1, s2]);
    program = await startProgram(["serve", "--config", config]);
    const fill = await nbdsh(
      uri,
      `for i in range(64):\n    h.pwrite(bytes([(i * 7 + j) % 256 for j in range(256)]) * 16, i * 4096)\nh.flush()`,
    );
    assert.equal(fill.code, 0, fill.stderr);

    // Fill-first: spare 0 full, spare 1 full, 6 blocks on spare 2; then spare 1 keeps 10.
    let rows = await cliJson<SpareRow[]>(["spare", "list", "live", ...online]);
    const [slots0, slots1] = [rows[0]!.totalBlocks, rows[1]!.totalBlocks];
    const blocks = Array.from({ length: slots0 + slots1 + 6 }, (_, i) => i);
    await call(base, "POST", "/v1/targets/live/remap", { blocks });
    await call(base, "POST", "/v1/targets/live/unremap", {
      blocks: blocks.slice(slots0 + 10, slots0 + slots1),
    });
    rows = await cliJson<SpareRow[]>(["spare", "list", "live", ...online]);
    assert.deepEqual(
      rows.map((r) => r.usedBlocks),
      [slots0, 10, 6],
    );
    const before = await digest(uri);

    const busy = await runCli(["spare", "remove", "live", s1, ...online]);
    assert.notEqual(busy.code, 0);
    assert.match(busy.stderr, /spare 1 of set "live" still holds 10 slots; drain it first/);
    const drained = await runCli(["spare", "drain", "live", s1, ...online]);
    assert.equal(drained.code, 0, drained.stderr);
    const removed = await runCli(["spare", "remove", "live", s1, ...online]);
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stdout, /removed spare 1 \(.*s1\.img\) from target live/);
    rows = await cliJson<SpareRow[]>(["spare", "list", "live", ...online]);
    assert.deepEqual(
      rows.map((r) => [r.index, r.device, r.usedBlocks]),
      [
        [0, s0, slots0],
        [1, "removed spare 1", 0],
        [2, s2, 16],
      ],
    );
    // New remaps never land on the removed spare.
    await call(base, "POST", "/v1/targets/live/remap", { blocks: [blocks.length, blocks.length + 1] });
    rows = await cliJson<SpareRow[]>(["spare", "list", "live", ...online]);
    assert.deepEqual(
      rows.map((r) => r.usedBlocks),
      [slots0, 0, 18],
    );
    assert.equal(await digest(uri), before);
    assert.equal(await program.stop("SIGTERM"), 0);
    program = undefined;

    // The removed device is refused; the two remaining spares make the set, not degraded.
    const stale = await runCli(["status", "--spare", s0, "--spare", s1, "--spare", s2]);
    assert.notEqual(stale.code, 0);
    assert.match(stale.stderr, /s1\.img holds no valid dmremap metadata/);
    const status = await cliJson<{ missingSpares?: unknown[] }>(["status", "--spare", s0, "--spare", s2]);
    assert.deepEqual(status.missingSpares ?? [], []);
    await write([s0, s2]);
    program = await startProgram(["serve", "--config", config]);
    assert.equal(await digest(uri), before);
    rows = await cliJson<SpareRow[]>(["spare", "list", "live", ...online]);
    assert.deepEqual(
      rows.map((r) => [r.index, r.usedBlocks]),
      [
        [0, slots0],
        [1, 0],
        [2, 18],
      ],
    );
    assert.equal(await program.stop("SIGTERM"), 0);
    program = undefined;
  } finally {
    await program?.stop("SIGKILL");
    await dir.cleanup();
  }
});

test("spare remove offline: the empty middle spare of a stopped set leaves; it serves with the other two", async () => {
  await requireTools("nbdsh");
  const dir = await tempDir();
  let program: RunningProgram | undefined;
  try {
    const { s0, s1, config, write, base, uri, online } = await liveSet(dir.path);
    const s2 = await sparseFile(join(dir.path, "s2.img"), 2 << 20);
    await write([s0, s1, s2]);
    program = await startProgram(["serve", "--config", config]);
    const fill = await nbdsh(
      uri,
      `for i in range(32):\n    h.pwrite(bytes([(i * 5 + j) % 256 for j in range(256)]) * 16, i * 4096)\nh.flush()`,
    );
    assert.equal(fill.code, 0, fill.stderr);
    let rows = await cliJson<SpareRow[]>(["spare", "list", "live", ...online]);
    const [slots0, slots1] = [rows[0]!.totalBlocks, rows[1]!.totalBlocks];
    const blocks = Array.from({ length: slots0 + slots1 + 3 }, (_, i) => i);
    await call(base, "POST", "/v1/targets/live/remap", { blocks });
    await call(base, "POST", "/v1/targets/live/unremap", { blocks: blocks.slice(slots0, slots0 + slots1) });
    rows = await cliJson<SpareRow[]>(["spare", "list", "live", ...online]);
    assert.deepEqual(
      rows.map((r) => r.usedBlocks),
      [slots0, 0, 3],
    );
    const before = await digest(uri);
    assert.equal(await program.stop("SIGTERM"), 0);
    program = undefined;

    const busy = await runCli(["spare", "remove", "--spare", s0, "--spare", s1, "--spare", s2, "2"]);
    assert.notEqual(busy.code, 0);
    assert.match(busy.stderr, /spare 2 of set "live" still holds 3 remapped blocks; drain it first/);
    const removed = await runCli(["spare", "remove", "--spare", s0, "--spare", s1, "--spare", s2, s1]);
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stdout, /removed spare 1 from set "live"; its metadata is wiped/);
    assert.ok(removed.stdout.includes(`--spare ${s0} --spare ${s2}`), removed.stdout);
    const status = await cliJson<{ missingSpares?: unknown[] }>(["status", "--spare", s0, "--spare", s2]);
    assert.deepEqual(status.missingSpares ?? [], []);
    await write([s0, s2]);
    program = await startProgram(["serve", "--config", config]);
    assert.equal(await digest(uri), before);
    rows = await cliJson<SpareRow[]>(["spare", "list", "live", ...online]);
    assert.deepEqual(
      rows.map((r) => [r.index, r.device, r.usedBlocks]),
      [
        [0, s0, slots0],
        [1, "removed spare 1", 0],
        [2, s2, 3],
      ],
    );
    assert.equal(await program.stop("SIGTERM"), 0);
    program = undefined;
  } finally {
    await program?.stop("SIGKILL");
    await dir.cleanup();
  }
});
