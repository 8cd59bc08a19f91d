// End-to-end: `dmremap spare add TARGET DEV` against the running daemon while fio runs a randrw
// verify workload on the export: no I/O or verify error, the new slots take remaps the full first
// spare refuses, and after a restart with both spares the export reads the same bytes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { cliJson, runCli, startProgram, tempDir, type RunningProgram } from "./harness.js";
import { call, digest, fioClean, liveSet, whileFioRuns, type SpareRow } from "./spare-support.js";
import { api, requireTools } from "./tools.js";

test("spare add online: fio randrw verify runs through it, the new slots are usable at once", async () => {
  await requireTools("fio", "nbdsh");
  const dir = await tempDir();
  let program: RunningProgram | undefined;
  try {
    const set = await liveSet(dir.path);
    const { s0, s1, config, write, base, uri, online } = set;
    await write([s0]);
    program = await startProgram(["serve", "--config", config]);

    const { result: added, workload } = await whileFioRuns(set, "online-add", 200, () =>
      runCli(["spare", "add", "live", s1, ...online]),
    );
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /as spare 1 of target live: \d+ slots .*usable after \d+ ms/);
    await fioClean(workload);

    const rows = await cliJson<SpareRow[]>(["spare", "list", "live", ...online]);
    assert.deepEqual(
      rows.map((r) => [r.index, r.device, r.metadata]),
      [
        [0, s0, "ok"],
        [1, s1, "ok"],
      ],
    );
    // Fill the first spare through the API; the next remaps land on the new one.
    const free0 = rows[0]!.totalBlocks - rows[0]!.usedBlocks;
    const blocks = Array.from({ length: free0 + 3 }, (_, i) => 3000 + i);
    await call(base, "POST", "/v1/targets/live/remap", { blocks });
    const after = await cliJson<SpareRow[]>(["spare", "list", "live", ...online]);
    assert.deepEqual(
      after.map((r) => r.usedBlocks),
      [rows[0]!.totalBlocks, rows[1]!.usedBlocks + 3],
    );
    const refused = await api(base, "POST", "/v1/targets/live/spares", { body: { device: s0 } });
    assert.equal(refused.status, 409, refused.text);
    assert.match(refused.text, /overlaps/);
    const before = await digest(uri);
    assert.equal(await program.stop("SIGTERM"), 0);
    program = undefined;

    // The set is complete on disk, and serves the verified data with both spares.
    const check = await runCli(["check", "--spare", s0, "--spare", s1]);
    assert.equal(check.code, 0, `${check.stdout}${check.stderr}`);
    await write([s0, s1]);
    program = await startProgram(["serve", "--config", config]);
    assert.equal(await digest(uri), before, "the same bytes after a restart with every spare");
    assert.equal(await program.stop("SIGTERM"), 0);
    program = undefined;
  } finally {
    await program?.stop("SIGKILL");
    await dir.cleanup();
  }
});
