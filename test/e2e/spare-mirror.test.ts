// End-to-end: a set created with `--mirror 2` keeps every remapped block on two spares. Blocks remapped
// by write errors of a dust main survive the loss of one spare image (the daemon restarted without
// it serves them exact, status degraded), and `spare rebuild` re-creates the lost copies on a spare
// added online.
import { test } from "node:test";
import assert from "node:assert/strict";
import { rename } from "node:fs/promises";
import { runCli, tempDir, type RunningProgram } from "./harness.js";
import { mirroredSet } from "./mirror-support.js";
import { api, parsePrometheus, requireTools, sampleValue } from "./tools.js";

/** Bad blocks of the dust main: every write to them fails, so each is remapped. */
const BAD = Array.from({ length: 24 }, (_, i) => 200 + i);

interface MirrorStatus {
  state: string;
  reason?: string;
  remappedBlocks: number;
  unavailableBlocks: number;
  mirror: {
    copies: number;
    mirroredBlocks: number;
    singleCopyBlocks: number;
    healthySpares: number;
    rebuilt: number;
  };
}

/** Python expression of block b's content (seeded by the block number). */
const CONTENT = "bytes(((b * 131 + i * 7) % 251) for i in range(4096))";

test("mirror 2: a spare removed while mirrored loses no data; spare add + rebuild restore two copies", async () => {
  await requireTools("nbdsh");
  const dir = await tempDir();
  let program: RunningProgram | undefined;
  try {
    const set = await mirroredSet(dir.path, BAD, CONTENT, async (mainSpec, s0) => {
      const one = await runCli([
        "create",
        "--main",
        mainSpec,
        "--spare",
        s0,
        "--name",
        "mir",
        "--mirror",
        "2",
      ]);
      assert.notEqual(one.code, 0);
      assert.match(one.stderr, /--mirror 2 needs at least 2 --spare devices \(1 given\)/);
    });
    assert.match(set.createdStdout, /mirrored \(2 copies of every remapped block\)/);
    const { s0, s1, s2, apiSocket, serve } = set;
    const status = () => set.status<MirrorStatus>();

    program = await serve([s0, s1]);
    await set.writeBlocks();
    let st = await status();
    assert.equal(st.remappedBlocks, BAD.length);
    assert.deepEqual(
      [st.mirror.copies, st.mirror.mirroredBlocks, st.mirror.singleCopyBlocks],
      [2, BAD.length, 0],
    );
    assert.equal(st.state, "healthy", st.reason);
    // A standby spare joins online (new copies can go there once a spare is lost).
    const added = await runCli(["spare", "add", "mir", s2, "--api", apiSocket]);
    assert.equal(added.code, 0, added.stderr);
    assert.equal(await program.stop("SIGTERM"), 0);
    program = undefined;

    // Spare s1's image is gone: the daemon restarted without it serves every remapped block exact.
    await rename(s1, `${s1}.gone`);
    program = await serve([s0, s2]);
    assert.equal(await set.compareBlocks(), BAD.length);
    st = await status();
    assert.equal(st.state, "degraded");
    assert.match(st.reason ?? "", new RegExp(`mirror degraded: ${BAD.length} remapped blocks have one copy`));
    assert.equal(st.unavailableBlocks, 0, "no block is unavailable: each has a copy on s0");
    assert.equal(st.mirror.healthySpares, 2);
    const shown = await runCli(["status", "mir", "--api", apiSocket]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(
      shown.stdout,
      new RegExp(`2 copies: 0 blocks mirrored, ${BAD.length} with one copy \\(run spare rebuild\\)`),
    );
    const metrics = parsePrometheus((await api(apiSocket, "GET", "/metrics")).text);
    assert.equal(
      sampleValue(metrics, "dmremap_mirror_blocks", { target: "mir", kind: "single_copy" }),
      BAD.length,
    );
    assert.ok(
      program.logLines.some((l) => l.includes("target state changed") && l.includes("mirror degraded")),
      "the degraded state is logged",
    );

    // Rebuild gives every block its second copy on s2.
    const rebuilt = await runCli(["spare", "rebuild", "mir", "--api", apiSocket]);
    assert.equal(rebuilt.code, 0, `${rebuilt.stdout}${rebuilt.stderr}`);
    assert.match(
      rebuilt.stdout,
      new RegExp(
        `mirror rebuild: done, ${BAD.length}/${BAD.length} blocks, ${BAD.length} with two copies again`,
      ),
    );
    st = await status();
    assert.equal(st.mirror.singleCopyBlocks, 0);
    assert.equal(st.mirror.rebuilt, BAD.length);
    assert.equal(program.logLines.filter((l) => l.includes("mirror copy rebuilt")).length, BAD.length);
    const healed = parsePrometheus((await api(apiSocket, "GET", "/metrics")).text);
    assert.equal(sampleValue(healed, "dmremap_mirror_blocks", { target: "mir", kind: "single_copy" }), 0);
    assert.equal(
      sampleValue(healed, "dmremap_mirror_blocks", { target: "mir", kind: "mirrored" }),
      BAD.length,
    );
    assert.equal(await set.compareBlocks(), BAD.length);
    const again = await runCli(["spare", "rebuild", "mir", "--api", apiSocket]);
    assert.match(again.stdout, /mirror rebuild: done, 0\/0 blocks/, "nothing left to rebuild");
    assert.equal(await program.stop("SIGTERM"), 0);
    program = undefined;

    // The rebuilt copies are durable: with s0 gone too, s2 alone serves every block exact.
    program = await serve([s2]);
    assert.equal(await set.compareBlocks(), BAD.length);
    assert.equal(await program.stop("SIGTERM"), 0);
    program = undefined;
  } finally {
    await program?.stop("SIGKILL");
    await dir.cleanup();
  }
});
