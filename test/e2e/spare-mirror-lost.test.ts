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
import { runCli, startProgram, tempDir, type RunningProgram } from "./harness.js";
import { api, nbdsh, nbdUnixUri, parsePrometheus, requireTools, sampleValue, sparseFile } from "./tools.js";

const BS = 4096;
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

/** How many remapped blocks read back exact through NBD (asserts all of them do). */
async function exactBlocks(uri: string): Promise<number> {
  const r = await nbdsh(
    uri,
    `bad = [b for b in ${JSON.stringify(BAD)} if h.pread(${BS}, b * ${BS}) != ${CONTENT}]\nprint(${BAD.length} if not bad else "mismatch %r" % bad)`,
  );
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), String(BAD.length), "every remapped block reads back exact");
  return BAD.length;
}

test("mirror 2, a spare lost: spare add, kill + restart, spare rebuild onto it, spare remove the lost one; no data lost", async () => {
  await requireTools("nbdsh");
  const dir = await tempDir();
  let program: RunningProgram | undefined;
  try {
    const main = await sparseFile(join(dir.path, "main.img"), 16 << 20);
    const [s0, s1, s2] = await Promise.all(
      ["s0", "s1", "s2"].map((n) => sparseFile(join(dir.path, `${n}.img`), 2 << 20)),
    );
    const mainSpec = `dust:block=${BAD[0]}-${BAD[BAD.length - 1]},block-size=${BS}:${main}`;
    const created = await runCli([
      "create",
      "--main",
      mainSpec,
      "--spare",
      s0!,
      "--spare",
      s1!,
      "--name",
      "mir",
      "--mirror",
      "2",
    ]);
    assert.equal(created.code, 0, created.stderr);
    const apiSocket = `unix:${join(dir.path, "api.sock")}`;
    const socket = join(dir.path, "nbd.sock");
    const uri = nbdUnixUri(socket, "mir");
    const online = ["--api", apiSocket];
    const serve = (spares: string[]) =>
      startProgram([
        "serve",
        ...spares.flatMap((s) => ["--spare", s]),
        "--listen",
        `unix:${socket}`,
        "--api",
        apiSocket,
      ]);
    const status = async () => (await api(apiSocket, "GET", "/v1/targets/mir")).json as LostStatus;

    program = await serve([s0!, s1!]);
    const written = await nbdsh(
      uri,
      `for b in ${JSON.stringify(BAD)}:\n    h.pwrite(${CONTENT}, b * ${BS})\nh.flush()`,
    );
    assert.equal(written.code, 0, written.stderr);
    assert.equal((await status()).mirror.mirroredBlocks, BAD.length);
    assert.equal(await program.stop("SIGTERM"), 0);

    // s1 is lost: the set serves degraded from s0, every block still exact (its copy on s0).
    await rename(s1!, `${s1}.lost`);
    program = await serve([s0!]);
    await exactBlocks(uri);
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
    const added = await runCli(["spare", "add", "mir", s2!, ...online]);
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /added .*s2\.img as spare 2 of target mir/);
    await exactBlocks(uri);
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
    program = await serve([s0!, s2!]);
    await exactBlocks(uri);
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
    const rebuilt = await runCli(["spare", "rebuild", "mir", s2!, ...online]);
    assert.equal(rebuilt.code, 0, rebuilt.stdout + rebuilt.stderr);
    assert.match(
      rebuilt.stdout,
      new RegExp(
        `mirror rebuild onto spare 2: done, ${BAD.length}/${BAD.length} blocks, ${BAD.length} with two copies again`,
      ),
    );
    await exactBlocks(uri);

    const removed = await runCli(["spare", "remove", "mir", s1!, ...online]);
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stdout, /removed spare 1 \(missing spare 1 .*\) from target mir/);
    st = await status();
    assert.equal(st.state, "healthy", st.reason);
    assert.deepEqual(st.missingSpares, []);
    assert.deepEqual([st.mirror.mirroredBlocks, st.mirror.singleCopyBlocks], [BAD.length, 0]);
    await exactBlocks(uri);

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
    program = await serve([s0!, s2!]);
    st = await status();
    assert.equal(st.state, "healthy", st.reason);
    await exactBlocks(uri);
    assert.equal(await program.stop("SIGTERM"), 0);
    program = undefined;
    await rename(`${s1}.lost`, s1!);
    const back = await runCli(["status", "--spare", s0!, "--spare", s1!, "--spare", s2!]);
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
