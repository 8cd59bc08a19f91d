// End-to-end: `dmremap spare remove TARGET DEV` against the running daemon: an empty last spare
// leaves and is wiped, a spare that holds blocks is refused with the count until it is drained,
// the only spare is refused, and the set restarts without the removed spare, not degraded.
import { test } from "node:test";
import assert from "node:assert/strict";
import { cliJson, runCli, startProgram, tempDir, type RunningProgram } from "./harness.js";
import { call, liveSet, type SpareRow } from "./spare-support.js";
import { nbdsh, requireTools } from "./tools.js";

test("spare remove online: empty last spare leaves, a spare with blocks is refused until drained", async () => {
  await requireTools("nbdsh");
  const dir = await tempDir();
  let program: RunningProgram | undefined;
  try {
    const { s0, s1, config, write, base, uri, online } = await liveSet(dir.path);
    await write([s0, s1]);
    program = await startProgram(["serve", "--config", config]);
    const fill = await nbdsh(uri, `h.pwrite(bytes(range(256)) * 16, 3 * 4096, nbd.CMD_FLAG_FUA)`);
    assert.equal(fill.code, 0, fill.stderr);

    // Fill spare 0 and put 5 blocks on spare 1.
    let rows = await cliJson<SpareRow[]>(["spare", "list", "live", ...online]);
    const slots0 = rows[0]!.totalBlocks;
    await call(base, "POST", "/v1/targets/live/remap", {
      blocks: Array.from({ length: slots0 + 5 }, (_, i) => 3 + i),
    });
    const busy = await runCli(["spare", "remove", "live", s1, ...online]);
    assert.notEqual(busy.code, 0);
    assert.match(busy.stderr, /spare 1 of set "live" still holds 5 slots; drain it first/);
    const first = await runCli(["spare", "remove", "live", "0", ...online]);
    assert.notEqual(first.code, 0);
    assert.match(
      first.stderr,
      new RegExp(`spare 0 of set "live" still holds ${slots0} slots; drain it first`),
    );

    // Make room on spare 0, drain spare 1, remove it.
    await call(base, "POST", "/v1/targets/live/unremap", { blocks: [10, 11, 12, 13, 14] });
    const drained = await runCli(["spare", "drain", "live", s1, ...online]);
    assert.equal(drained.code, 0, drained.stderr);
    const removed = await runCli(["spare", "remove", "live", s1, ...online]);
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stdout, /removed spare 1 \(.*s1\.img\) from target live/);
    rows = await cliJson<SpareRow[]>(["spare", "list", "live", ...online]);
    assert.deepEqual(
      rows.map((r) => [r.index, r.device, r.usedBlocks]),
      [[0, s0, slots0]],
    );
    const only = await runCli(["spare", "remove", "live", s0, ...online]);
    assert.notEqual(only.code, 0);
    assert.match(only.stderr, /only spare cannot be removed/);
    const read = await nbdsh(uri, `import sys; sys.stdout.write(h.pread(4096, 3 * 4096).hex())`);
    assert.equal(
      read.stdout.trim(),
      Buffer.from(Array.from({ length: 4096 }, (_, i) => i % 256)).toString("hex"),
    );
    assert.equal(await program.stop("SIGTERM"), 0);
    program = undefined;

    // The removed spare is blank for dmremap; the set is complete without it.
    // (Degraded only because its one spare is full: no spare is missing.)
    const status = await cliJson<{
      reason?: string;
      missingSpares?: unknown[];
      metadata: { copies: unknown[] };
    }>(["status", "--spare", s0]);
    assert.deepEqual(status.missingSpares ?? [], []);
    assert.equal(status.metadata.copies.length, 1);
    assert.doesNotMatch(status.reason ?? "", /missing/);
    const stale = await runCli(["status", "--spare", s0, "--spare", s1]);
    assert.notEqual(stale.code, 0);
    assert.match(stale.stderr, /s1\.img holds no valid dmremap metadata/);
    await write([s0]);
    program = await startProgram(["serve", "--config", config]);
    assert.equal(await program.stop("SIGTERM"), 0);
    program = undefined;
  } finally {
    await program?.stop("SIGKILL");
    await dir.cleanup();
  }
});
