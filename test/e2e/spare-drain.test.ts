// End-to-end: `dmremap spare drain TARGET DEV` against the running daemon while fio runs a randrw
// verify workload on the export: no I/O or verify error, every block leaves the drained spare, the
// set checks clean and the export reads the same bytes after a restart.
import { test } from "node:test";
import assert from "node:assert/strict";
import { cliJson, runCli, startProgram, tempDir, type RunningProgram } from "./harness.js";
import { call, digest, fioClean, liveSet, whileFioRuns, type SpareRow } from "./spare-support.js";
import { api, requireTools } from "./tools.js";

test("spare drain online: fio randrw verify runs through it, the spare ends empty", async () => {
  await requireTools("fio", "nbdsh");
  const dir = await tempDir();
  let program: RunningProgram | undefined;
  try {
    const set = await liveSet(dir.path);
    const { s0, s1, config, base, uri, online } = set;
    await set.write([s0, s1]);
    program = await startProgram(["serve", "--config", config]);
    // 150 remapped blocks inside fio's region, all on spare 0 (slots are handed out in order).
    await call(base, "POST", "/v1/targets/live/remap", {
      blocks: Array.from({ length: 150 }, (_, i) => 100 + i * 7),
    });
    let rows = await cliJson<SpareRow[]>(["spare", "list", "live", ...online]);
    assert.deepEqual(
      rows.map((r) => r.usedBlocks),
      [150, 0],
    );

    const { result: drained, workload } = await whileFioRuns(set, "drain", 200, () =>
      runCli(["spare", "drain", "live", s0, ...online]),
    );
    assert.equal(drained.code, 0, drained.stderr);
    assert.match(drained.stdout, /drain of spare 0: done, 150\/150 blocks/);
    await fioClean(workload);

    rows = await cliJson<SpareRow[]>(["spare", "list", "live", ...online]);
    assert.equal(rows[0]!.usedBlocks, 0, "nothing is left on the drained spare");
    assert.ok(rows[1]!.usedBlocks >= 150);
    const progress = (await call(base, "GET", "/v1/targets/live/spares/0/drain")) as {
      state: string;
      done: number;
    };
    assert.deepEqual([progress.state, progress.done], ["done", 150]);
    const metrics = await api(base, "GET", "/metrics");
    assert.match(metrics.text, /dmremap_spare_drain_blocks\{target="live",spare="0",kind="done"\} 150/);
    assert.match(metrics.text, /dmremap_spare_device_slots\{target="live",spare="0",kind="used"\} 0/);
    // Refusals name the problem.
    const unknown = await runCli(["spare", "drain", "live", "/nonexistent", ...online]);
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.stderr, /no spare "\/nonexistent"/);
    const noSpare = await api(base, "POST", "/v1/targets/live/spares/7/drain");
    assert.equal(noSpare.status, 404, noSpare.text);
    const before = await digest(uri);
    assert.equal(await program.stop("SIGTERM"), 0);
    program = undefined;

    const check = await runCli(["check", "--spare", s0, "--spare", s1]);
    assert.equal(check.code, 0, `${check.stdout}${check.stderr}`);
    program = await startProgram(["serve", "--config", config]);
    assert.equal(await digest(uri), before, "the same bytes after a restart with every spare");
    assert.equal(await program.stop("SIGTERM"), 0);
    program = undefined;
  } finally {
    await program?.stop("SIGKILL");
    await dir.cleanup();
  }
});
