// End-to-end: the procedure "Replace a failing spare" of docs/OPERATIONS.md, its exact commands
// against the running daemon: drain the last spare, remove it, add the replacement; the export
// reads the same bytes throughout and after a restart with the config line the commands print.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { cliJson, runCli, startProgram, tempDir, type RunningProgram } from "./harness.js";
import { call, digest, liveSet, type SpareRow } from "./spare-support.js";
import { api, nbdsh, requireTools, sparseFile } from "./tools.js";

test("replace a failing spare: drain, remove, add, as OPERATIONS.md says; no byte changes", async () => {
  await requireTools("nbdsh");
  const dir = await tempDir();
  let program: RunningProgram | undefined;
  try {
    const { s0, s1, config, write, base, uri, online } = await liveSet(dir.path);
    const s2 = await sparseFile(join(dir.path, "s2.img"), 2 << 20);
    await write([s0, s1]);
    program = await startProgram(["serve", "--config", config]);
    const fill = await nbdsh(uri, `h.pwrite(bytes(range(256)) * 16 * 64, 0, nbd.CMD_FLAG_FUA)`);
    assert.equal(fill.code, 0, fill.stderr);
    // Spare 0 full, 5 blocks on spare 1 (the failing one), then room for them on spare 0.
    let rows = await cliJson<SpareRow[]>(["spare", "list", "live", ...online]);
    const slots0 = rows[0]!.totalBlocks;
    await call(base, "POST", "/v1/targets/live/remap", {
      blocks: Array.from({ length: slots0 + 5 }, (_, i) => i),
    });
    await call(base, "POST", "/v1/targets/live/unremap", { blocks: [10, 11, 12, 13, 14] });
    const before = await digest(uri);

    const list = await runCli(["spare", "list", "live", ...online]);
    assert.equal(list.code, 0, list.stderr);
    const drained = await runCli(["spare", "drain", "live", s1, ...online]);
    assert.equal(drained.code, 0, drained.stderr);
    assert.match(drained.stdout, /drain of spare 1: done, 5\/5 blocks/);
    rows = await cliJson<SpareRow[]>(["spare", "list", "live", ...online]);
    assert.deepEqual(
      rows.map((r) => [r.usedBlocks, (r as { draining?: boolean }).draining]),
      [
        [slots0, false],
        [0, true],
      ],
    );
    const removed = await runCli(["spare", "remove", "live", s1, ...online]);
    assert.equal(removed.code, 0, removed.stderr);
    assert.ok(removed.stdout.includes(`spares = [${JSON.stringify(s0)}]`), removed.stdout);
    const added = await runCli(["spare", "add", "live", s2, ...online]);
    assert.equal(added.code, 0, added.stderr);
    assert.ok(added.stdout.includes(`spares = [${JSON.stringify(s0)}, ${JSON.stringify(s2)}]`), added.stdout);
    rows = await cliJson<SpareRow[]>(["spare", "list", "live", ...online]);
    assert.deepEqual(
      rows.map((r) => [r.index, r.device, (r as { draining?: boolean }).draining]),
      [
        [0, s0, false],
        [1, s2, false],
      ],
    );
    assert.equal(await digest(uri), before, "the export reads the same bytes");
    // The new spare takes new slots (spare 0 is full).
    await call(base, "POST", "/v1/targets/live/remap", { blocks: [4000] });
    rows = await cliJson<SpareRow[]>(["spare", "list", "live", ...online]);
    assert.equal(rows[1]!.usedBlocks, 1);
    const metrics = (await api(base, "GET", "/metrics")).text;
    for (const op of ["drain", "remove", "add"])
      assert.match(
        metrics,
        new RegExp(`dmremap_spare_operations_total\\{target="live",op="${op}",result="ok"\\} 1`),
      );
    assert.equal(await program.stop("SIGTERM"), 0);
    program = undefined;

    // The config line the commands printed brings the set back whole.
    await write([s0, s2]);
    const check = await runCli(["check", "--spare", s0, "--spare", s2]);
    assert.equal(check.code, 0, `${check.stdout}${check.stderr}`);
    program = await startProgram(["serve", "--config", config]);
    assert.equal(await digest(uri), before);
    assert.equal(await program.stop("SIGTERM"), 0);
    program = undefined;
  } finally {
    await program?.stop("SIGKILL");
    await dir.cleanup();
  }
});
