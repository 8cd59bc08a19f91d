// End-to-end: a mirrored set (mirror = 2, two spares) loses spare s1. While serving degraded, the
// admin runs `spare add` of a new device s2 (the daemon is then killed and restarted: the add is
// durable), `spare rebuild TARGET s2` (every second copy onto s2) and `spare remove` of the lost s1
// (refused while it still holds copies). Every remapped block reads back exact through NBD at each
// step; the verbs show in metrics and the log; the set restarts complete from s0 and s2, and the lost
// device, put back, is refused by name.
import { test } from "node:test";
import assert from "node:assert/strict";
import { rename } from "node:fs/promises";
import { join } from "node:path";
import { runCli, tempDir, type RunningProgram } from "./harness.js";
import { mirroredSet } from "./mirror-support.js";
import { api, parsePrometheus, requireTools, sampleValue } from "./tools.js";

/** Bad blocks of the dust main: every write to them fails, so each is remapped (two copies). */
const BAD = Array.from({ length: 24 }, (_, i) => 300 + i);
/** Python expression of block b's content (seeded by the block number). */
const CONTENT = "bytes(((b * 151 + i * 11) % 253) for i in range(4096))";

interface LostStatus {
  state: string;
  reason?: string;
  missingSpares: { index: number }[];
  unavailableBlocks: number;
  mirror: { mirroredBlocks: number; singleCopyBlocks: number };
}

test("mirror 2, a spare lost: spare add, kill + restart, spare rebuild onto it, spare remove the lost one; no data lost", async () => {
  await requireTools("nbdsh");
  const dir = await tempDir();
  let program: RunningProgram | undefined;
  try {
    const set = await mirroredSet(dir.path, BAD, CONTENT);
    const { s0, s1, s2, apiSocket, online, serve } = set;
    const status = () => set.status<LostStatus>();

    program = await serve([s0, s1]);
    await set.writeBlocks();
    assert.equal((await status()).mirror.mirroredBlocks, BAD.length);
    assert.equal(await program.stop("SIGTERM"), 0);

    // s1 is lost: the set serves degraded from s0, every block still exact (its copy on s0).
    await rename(s1, `${s1}.lost`);
    program = await serve([s0]);
    await set.compareBlocks();
    let st = await status();
    assert.equal(st.state, "degraded");
    assert.deepEqual(
      st.missingSpares.map((m) => m.index),
      [1],
    );
    assert.equal(st.unavailableBlocks, 0);

    // The lost spare still holds the second copies: remove is refused with the count.
    const early = await runCli(["spare", "remove", "mir", "1", ...online]);
    assert.notEqual(early.code, 0);
    assert.match(
      early.stderr,
      new RegExp(
        `spare 1 of set "mir" is missing and still holds ${BAD.length} slots; add a spare and run spare rebuild first`,
      ),
    );
    const added = await runCli(["spare", "add", "mir", s2, ...online]);
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /added .*s2\.img as spare 2 of target mir/);
    await set.compareBlocks();
    assert.ok(
      program.logLines.some((l) => l.includes("spare added")),
      "the add is logged",
    );
    const addMetrics = parsePrometheus((await api(apiSocket, "GET", "/metrics")).text);
    assert.equal(
      sampleValue(addMetrics, "dmremap_spare_operations_total", { target: "mir", op: "add", result: "ok" }),
      1,
    );

    // A crash right after the add: the restarted daemon (s0 and s2 given) has s2 as a member.
    await program.stop("SIGKILL");
    program = await serve([s0, s2]);
    await set.compareBlocks();
    st = await status();
    assert.equal(st.state, "degraded");
    assert.equal(st.mirror.singleCopyBlocks, BAD.length);

    // Rebuild onto a device that is not a member, or onto the lost one: refused by name.
    const stranger = await runCli(["spare", "rebuild", "mir", join(dir.path, "nope.img"), ...online]);
    assert.notEqual(stranger.code, 0);
    assert.match(stranger.stderr, /"[^"]*nope\.img" is not a spare of target mir \(spares: 0 /);
    const ontoLost = await runCli(["spare", "rebuild", "mir", "1", ...online]);
    assert.notEqual(ontoLost.code, 0);
    assert.match(ontoLost.stderr, /cannot rebuild onto spare 1 \(.*s1\.img\) of set "mir": it is missing/);

    const badBody = await api(apiSocket, "POST", "/v1/targets/mir/mirror/rebuild", { body: { spare: "2" } });
    assert.equal(badBody.status, 400, badBody.text);
    const noSpare = await api(apiSocket, "POST", "/v1/targets/mir/mirror/rebuild", { body: { spare: 9 } });
    assert.equal(noSpare.status, 404, noSpare.text);
    assert.match(noSpare.text, /no spare 9 in target mir/);
    const rebuilt = await runCli(["spare", "rebuild", "mir", s2, ...online]);
    assert.equal(rebuilt.code, 0, rebuilt.stdout + rebuilt.stderr);
    assert.match(
      rebuilt.stdout,
      new RegExp(
        `mirror rebuild onto spare 2: done, ${BAD.length}/${BAD.length} blocks, ${BAD.length} with two copies again`,
      ),
    );
    await set.compareBlocks();

    const removed = await runCli(["spare", "remove", "mir", s1, ...online]);
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stdout, /removed spare 1 \(missing spare 1 .*\) from target mir/);
    st = await status();
    assert.equal(st.state, "healthy", st.reason);
    assert.deepEqual(st.missingSpares, []);
    assert.deepEqual([st.mirror.mirroredBlocks, st.mirror.singleCopyBlocks], [BAD.length, 0]);
    await set.compareBlocks();

    const metrics = parsePrometheus((await api(apiSocket, "GET", "/metrics")).text);
    const ops = (op: string, result: string) =>
      sampleValue(metrics, "dmremap_spare_operations_total", { target: "mir", op, result });
    assert.deepEqual([ops("rebuild", "ok"), ops("remove", "ok")], [1, 1]);
    assert.equal(sampleValue(metrics, "dmremap_spares_missing", { target: "mir" }), 0);
    for (const kind of ["done", "total"])
      assert.equal(
        sampleValue(metrics, "dmremap_mirror_rebuild_blocks", { target: "mir", kind }),
        BAD.length,
      );
    for (const line of ["mirror rebuild started", "mirror rebuild done", "spare removed"])
      assert.ok(
        program.logLines.some((l) => l.includes(line)),
        `logged: ${line}`,
      );
    assert.equal(await program.stop("SIGTERM"), 0);
    program = undefined;

    // The set restarts complete from s0 and s2; the lost device, back again, is refused by name.
    program = await serve([s0, s2]);
    st = await status();
    assert.equal(st.state, "healthy", st.reason);
    await set.compareBlocks();
    assert.equal(await program.stop("SIGTERM"), 0);
    program = undefined;
    await rename(`${s1}.lost`, s1);
    const back = await runCli(["status", "--spare", s0, "--spare", s1, "--spare", s2]);
    assert.notEqual(back.code, 0);
    assert.match(
      back.stderr,
      /s1\.img was spare 1 of set "mir" .*which has been removed from the set; do not give it/,
    );
  } finally {
    await program?.stop("SIGKILL");
    await dir.cleanup();
  }
});
