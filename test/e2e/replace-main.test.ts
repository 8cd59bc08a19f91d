// End-to-end: `dmremap replace-main TARGET NEWDEV` against the running daemon while fio runs a randrw
// verify workload: the old main has bad blocks (one remapped by a failed write, one pending, one that
// nobody has read), the copy runs under the workload (no I/O or verify error), the set switches to the
// new image, the data reads back exact from it, the unreadable blocks are pending and listed, and the
// commands of docs/OPERATIONS.md "Retire the main disk" work as written.
import { test } from "node:test";
import assert from "node:assert/strict";
import { open, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { cliJson, runCli, startProgram, tempDir, TOOL_ENV, type RunningProgram } from "./harness.js";
import { call, fioClean, liveSet, whileFioRuns } from "./spare-support.js";
import { api, nbdsh, requireTools, sparseFile } from "./tools.js";

const BS = 4096;
const REMAPPED_BAD = 3500;
const PENDING = 3600;
const UNREAD = 3700;

/** Python: write block B (4 KiB) with bytes (B % 251) + 1, for every B in the tail region 3072..4095. */
const FILL_TAIL = `for b in range(3072, 4096):\n    if b in (${PENDING}, ${UNREAD}): continue\n    h.pwrite(bytes([b % 251 + 1]) * ${BS}, b * ${BS})\nh.flush()`;
const CHECK_TAIL = `bad = []\nfor b in range(3072, 4096):\n    if b in (${PENDING}, ${UNREAD}): continue\n    if h.pread(${BS}, b * ${BS}) != bytes([b % 251 + 1]) * ${BS}: bad.append(b)\nprint(bad)`;
const READ_FAILS = (b: number) =>
  `try:\n    h.pread(${BS}, ${b} * ${BS})\n    print("read ok")\nexcept nbd.Error as e:\n    print("read failed")`;

interface ReplaceView {
  state: string;
  phase: string;
  device: string;
  unreadableBlocks: number[];
  unremapped: number;
  copiedBytes: number;
}

test("replace-main under fio randrw verify: bad blocks on the old main, exact data on the new one", async () => {
  await requireTools("fio", "nbdsh");
  const dir = await tempDir();
  (TOOL_ENV as Record<string, string>).DMREMAP_STATE_DIR = join(dir.path, "state");
  let program: RunningProgram | undefined;
  try {
    const set = await liveSet(dir.path);
    const { s0, s1, config, base, uri, online } = set;
    const next = await sparseFile(join(dir.path, "new.img"), 16 << 20);
    await set.write([s0, s1]);
    // The old main fails reads and writes of three blocks outside fio's 12 MiB.
    await writeFile(
      config,
      (await readFile(config, "utf8")) +
        `[target.faults]\nenabled = true\n[target.faults.dust]\nblocks = [${REMAPPED_BAD}, ${PENDING}, ${UNREAD}]\n`,
    );
    program = await startProgram(["serve", "--config", config]);
    const fill = await nbdsh(uri, FILL_TAIL);
    assert.equal(fill.code, 0, fill.stderr);
    // The failed write of REMAPPED_BAD went to a spare slot; PENDING is marked unreadable; UNREAD is
    // bad but nobody knows. Healthy blocks inside fio's region are remapped too.
    await call(base, "POST", "/v1/targets/live/remap", { blocks: [100, 207, 1000, PENDING] });
    const before = (await call(base, "GET", "/v1/targets/live")) as {
      remappedBlocks: number;
      pendingBlocks: number;
    };
    assert.deepEqual([before.remappedBlocks, before.pendingBlocks], [4, 1]);

    // The procedure of docs/OPERATIONS.md: dry run, then the replacement while the set serves.
    const dry = await cliJson<{ toCopy: number; remapped: number; pending: number }>([
      "replace-main",
      "live",
      next,
      "--dry-run",
      "--json",
      ...online,
    ]);
    assert.deepEqual([dry.remapped, dry.pending, dry.toCopy], [4, 1, 4096 - 5]);
    // The admin refusals name the problem: a member of the set, a too small device, a filesystem.
    const overlap = await runCli(["replace-main", "live", s0, ...online]);
    assert.match(overlap.stderr, /overlap/i);
    const small = await sparseFile(join(dir.path, "small.img"), 8 << 20);
    assert.match(
      (await runCli(["replace-main", "live", small, ...online])).stderr,
      /fewer than the 16777216/,
    );
    const ext = await sparseFile(join(dir.path, "ext.img"), 16 << 20);
    const extFile = await open(ext, "r+");
    await extFile.write(Buffer.from([0x53, 0xef]), 0, 2, 1024 + 0x38);
    await extFile.close();
    const refused = await runCli(["replace-main", "live", ext, ...online]);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /contains a ext2? filesystem.*--force/);
    const mapfile = join(dir.path, "replace.map");
    const { result: replaced, workload } = await whileFioRuns(set, "replace", 200, () =>
      runCli(["replace-main", "live", next, "--mapfile", mapfile, ...online]),
    );
    assert.equal(replaced.code, 0, replaced.stderr + replaced.stdout + program.logLines.slice(-8).join("\n"));
    assert.match(replaced.stdout, /done \(done\) \[#+\] 100\.0%/);
    assert.match(replaced.stdout, new RegExp(`2 unreadable \\(pending\\): ${PENDING} ${UNREAD}`));
    await fioClean(workload);

    const status = await cliJson<ReplaceView>(["replace-main", "status", "live", "--json", ...online]);
    assert.equal(status.state, "done");
    assert.equal(status.device, next);
    assert.deepEqual(status.unreadableBlocks, [PENDING, UNREAD]);
    assert.equal(status.unremapped, 4, "every remapped block moved back onto the new main");
    const after = (await call(base, "GET", "/v1/targets/live")) as {
      remappedBlocks: number;
      pendingBlocks: number;
      mainDevice: string;
    };
    assert.equal(after.mainDevice, next, "the status names the new main");
    assert.deepEqual([after.remappedBlocks, after.pendingBlocks], [0, 2]);
    const map = await readFile(mapfile, "utf8");
    assert.match(
      map,
      new RegExp(`0x${(UNREAD * BS).toString(16).toUpperCase().padStart(8, "0")}\\s+0x00001000\\s+-`, "i"),
    );
    const metrics = (await api(base, "GET", "/metrics")).text;
    assert.match(metrics, /dmremap_replace_bytes\{target="live",kind="total"\} 16777216/);
    assert.match(metrics, /dmremap_replace_state\{target="live",state="done",phase="done"\} 1/);

    // The data reads back exact from the new main: the tail as written, the unreadable blocks fail.
    const tail = await nbdsh(uri, CHECK_TAIL);
    assert.equal(tail.stdout.trim(), "[]", tail.stderr);
    for (const b of [PENDING, UNREAD]) assert.match((await nbdsh(uri, READ_FAILS(b))).stdout, /read failed/);
    const served = await headDigest(uri);
    assert.equal(await program.stop("SIGTERM"), 0);
    program = undefined;

    // The new image holds the data by itself: serve it with main = the new image.
    await writeFile(
      config,
      (await readFile(config, "utf8")).replace(set.main, next).replace(/\[target\.faults[\s\S]*$/, ""),
    );
    program = await startProgram(["serve", "--config", config]);
    assert.equal(await headDigest(uri), served, "the same bytes served from the new main after a restart");
    assert.equal((await nbdsh(uri, CHECK_TAIL)).stdout.trim(), "[]");
    for (const b of [PENDING, UNREAD]) assert.match((await nbdsh(uri, READ_FAILS(b))).stdout, /read failed/);
    assert.equal(await program.stop("SIGTERM"), 0);
    program = undefined;
  } finally {
    await program?.stop("SIGKILL");
    await dir.cleanup();
  }
});

/** SHA-256 of fio's region (the first 12 MiB) of the export. */
async function headDigest(uri: string): Promise<string> {
  const script =
    "import hashlib, sys\nd = hashlib.sha256()\nfor at in range(0, 12 << 20, 1 << 20):\n    d.update(h.pread(1 << 20, at))\nsys.stdout.write(d.hexdigest())";
  const result = await nbdsh(uri, script);
  assert.equal(result.code, 0, result.stderr);
  return result.stdout.trim();
}

/** Python: write every block B of the 16 MiB export with bytes (B + seed) % 251 + 1. */
const fillAll = (seed: number) =>
  `for b in range(0, 4096, 64):\n    h.pwrite(b"".join(bytes([(x + ${seed}) % 251 + 1]) * ${BS} for x in range(b, b + 64)), b * ${BS})\nh.flush()`;
/** Python: print the blocks that differ from fillAll(seed), block 5 holding `block5` bytes. */
const checkAll = (seed: number, block5: number) =>
  `bad = []\nfor b in range(0, 4096, 64):\n    got = h.pread(64 * ${BS}, b * ${BS})\n    for x in range(b, b + 64):\n        want = bytes([${block5}]) * ${BS} if x == 5 else bytes([(x + ${seed}) % 251 + 1]) * ${BS}\n        if got[(x - b) * ${BS}:(x - b + 1) * ${BS}] != want: bad.append(x)\nprint(bad)`;

interface SavedRecord {
  checkpoint: { phase: string; cursorBlock: number };
}

test("replace-main stopped and killed mid-copy: each restart re-arms the copy and it finishes exact", async () => {
  await requireTools("nbdsh");
  const dir = await tempDir();
  const state = join(dir.path, "state");
  (TOOL_ENV as Record<string, string>).DMREMAP_STATE_DIR = state;
  let program: RunningProgram | undefined;
  try {
    const set = await liveSet(dir.path);
    const { s0, s1, config, base, uri, online } = set;
    const next = await sparseFile(join(dir.path, "new.img"), 16 << 20);
    await set.write([s0, s1]);
    // Slow reads of the old main: 64 copy requests of 256 KiB, two at a time, 200 ms each, so the
    // copy takes 6 s and each pause below stops it mid-copy (asserted: the saved point is < the end).
    await writeFile(
      config,
      (await readFile(config, "utf8")) +
        `[target.faults]\nenabled = true\n[target.faults.delay]\nread = "200ms"\n`,
    );
    program = await startProgram(["serve", "--config", config]);
    assert.equal((await nbdsh(uri, fillAll(3))).code, 0);
    const badChunk = await runCli(["replace-main", "live", next, "--chunk-size", "1000", ...online]);
    assert.notEqual(badChunk.code, 0);
    assert.match(badChunk.stderr, /chunkBytes 1000 is not a multiple of the block size 4096/);
    const started = await runCli([
      "replace-main",
      "live",
      next,
      "--no-wait",
      "--chunk-size",
      "256K",
      ...online,
    ]);
    assert.equal(started.code, 0, started.stderr);
    const record = join(
      state,
      (await readdir(state)).find((f) => f.endsWith(".replace.json"))!,
    );
    /** Pause the copy and wait until it stands still mid-copy: its saved resume point is returned. */
    const pauseMidCopy = async (): Promise<number> => {
      const paused = (await call(base, "POST", "/v1/targets/live/replace-main/pause")) as ReplaceView;
      assert.equal(paused.state, "paused");
      // The requests in flight finish, the last one saves the resume point, then nothing moves.
      for (let polls = 0; ; polls++) {
        assert.ok(polls < 1500, "the paused copy saved its resume point within 30 s");
        const view = (await call(base, "GET", "/v1/targets/live/replace-main")) as {
          doneBytes: number;
          requestsInFlight: number;
        };
        const saved = (JSON.parse(await readFile(record, "utf8")) as SavedRecord).checkpoint;
        if (view.requestsInFlight === 0 && saved.cursorBlock * BS === view.doneBytes) {
          assert.equal(saved.phase, "copying");
          assert.ok(saved.cursorBlock < 4096, `paused mid-copy (saved at block ${saved.cursorBlock})`);
          return saved.cursorBlock;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    const first = await pauseMidCopy();
    // A clean stop mid-copy keeps the record: the next start re-arms and resumes.
    assert.equal(await program.stop("SIGTERM"), 0);
    program = await startProgram(["serve", "--config", config]);
    const again = JSON.parse(
      await program.waitForLog((l) => l.includes("resuming the replacement of the main")),
    ) as { cursorBlock: number };
    assert.equal(again.cursorBlock, first);
    // Then a kill, paused mid-copy again (further on).
    const second = await pauseMidCopy();
    assert.ok(second > first, `the copy went on after the restart (${first} -> ${second})`);
    const midCopyRecord = JSON.parse(await readFile(record, "utf8")) as SavedRecord;
    assert.equal(await program.stop("SIGKILL"), null);
    program = undefined;

    program = await startProgram(["serve", "--config", config]);
    const resumed = JSON.parse(
      await program.waitForLog((l) => l.includes("resuming the replacement of the main")),
    ) as { cursorBlock: number };
    assert.equal(resumed.cursorBlock, second);
    // A write after the restart lands on both devices (the copy was re-armed before serving).
    assert.equal((await nbdsh(uri, `h.pwrite(bytes([200]) * ${BS}, 5 * ${BS})\nh.flush()`)).code, 0);
    await program.waitForLog((l) => l.includes("replacement of the main done"));
    const status = await cliJson<ReplaceView>(["replace-main", "status", "live", "--json", ...online]);
    assert.equal(status.state, "done");
    assert.deepEqual(status.unreadableBlocks, []);
    // Served from the new main now: no read reaches the slow old one (its fault counters stand still).
    type Served = { mainDevice: string; faults: Record<string, number> };
    const served = (await call(base, "GET", "/v1/targets/live")) as Served;
    assert.equal(served.mainDevice, next);
    const check = await nbdsh(uri, checkAll(3, 200), 20_000);
    assert.equal(check.stdout.trim(), "[]", check.stderr + program.logLines.slice(-8).join("\n"));
    assert.deepEqual(((await call(base, "GET", "/v1/targets/live")) as Served).faults, served.faults);
    assert.equal(await program.stop("SIGTERM"), 0);
    program = undefined;
    assert.deepEqual(
      (await readdir(state)).filter((f) => f.endsWith(".replace.json")),
      [],
      "the record is gone when done",
    );

    // A crash right after the switch's commit leaves the record at "switching" with the set already
    // on the new main. Recreated exactly: the record saved mid-copy, its phase set to "switching".
    // The config still names the old main and its fault rules (the slow reads): the daemon serves
    // the new main as it was at the switch, without the old main's fault layer (that layer over the
    // new main made every read wait: the read stall once seen after a resumed replacement).
    await writeFile(
      record,
      JSON.stringify({ ...midCopyRecord, checkpoint: { ...midCopyRecord.checkpoint, phase: "switching" } }),
    );
    program = await startProgram(["serve", "--config", config]);
    await program.waitForLog((l) => l.includes("was switched to its new main"));
    await program.waitForLog((l) => l.includes("replacement of the main done"));
    const afterCrash = (await call(base, "GET", "/v1/targets/live")) as Served;
    assert.equal(afterCrash.mainDevice, next);
    assert.equal(afterCrash.faults, undefined, "no fault layer over the new main");
    assert.equal((await nbdsh(uri, checkAll(3, 200), 20_000)).stdout.trim(), "[]");
    assert.equal(await program.stop("SIGTERM"), 0);
    program = undefined;
    assert.deepEqual(
      (await readdir(state)).filter((f) => f.endsWith(".replace.json")),
      [],
    );

    // The new image alone holds the data.
    await writeFile(
      config,
      (await readFile(config, "utf8")).replace(set.main, next).replace(/\[target\.faults[\s\S]*$/, ""),
    );
    program = await startProgram(["serve", "--config", config]);
    assert.equal((await nbdsh(uri, checkAll(3, 200))).stdout.trim(), "[]");
    assert.equal(await program.stop("SIGTERM"), 0);
    program = undefined;
  } finally {
    await program?.stop("SIGKILL");
    await dir.cleanup();
  }
});
