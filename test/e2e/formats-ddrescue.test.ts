// End-to-end: GNU ddrescue reads a failing disk (nbdkit ddrescue filter + nbdfuse); `dmremap import
// ddrescue` turns its mapfile into exactly the pending set of the bad sectors (offline, online, dry run,
// idempotent, whole-disk mapfile with --main-offset, suspects from -n); ddrescuelog accepts our export.
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { mustRun, runCli, startProgram, tempDir } from "./harness.js";
import {
  blocksOf,
  dmremapJson,
  failingDisk,
  seededBadSectors,
  type FailingDisk,
  type ImportAnswer,
} from "./formats-support.js";
import { api, requireTools, sparseFile } from "./tools.js";

const DISK_BYTES = 4 << 20;
const BLOCK = 4096;
// Short seeded runs, plus one long run whose middle ddrescue -n leaves non-scraped (/).
const BAD = [
  ...seededBadSectors(1414, 6, 64 << 10, 2 << 20),
  { startBytes: (3 << 20) + 1536, lengthBytes: 64 * 512 },
];
const EXPECTED = blocksOf(BAD, BLOCK);

describe("ddrescue interop", async () => {
  const dir = await tempDir("dmremap-formats-ddrescue-");
  let disk: FailingDisk | undefined;
  const map = join(dir.path, "rescue.map");
  const stateDir = join(dir.path, "state");

  before(async () => {
    await requireTools("ddrescue", "ddrescuelog", "nbdkit", "nbdfuse");
    disk = await failingDisk(dir.path, DISK_BYTES, BAD);
    // -d: direct reads, so the failing sectors are found at 512-byte precision (not page cache pages).
    await mustRun("ddrescue", ["-d", "-b", "512", disk.file, join(dir.path, "rescued.img"), map], {
      timeoutMs: 60_000,
    });
  });
  after(async () => {
    await disk?.close();
    await dir.cleanup();
  });

  it("the mapfile ddrescue wrote names exactly the bad sectors", async () => {
    const listed = await mustRun("ddrescuelog", ["-b", "512", "-l-", map]);
    const sectors = listed.stdout.trim().split("\n").map(Number);
    assert.deepEqual(
      sectors,
      BAD.flatMap((b) => Array.from({ length: b.lengthBytes / 512 }, (_, i) => b.startBytes / 512 + i)),
    );
  });

  it("offline import: dry run changes nothing, import marks exactly the bad blocks pending, again changes nothing", async () => {
    const main = await sparseFile(join(dir.path, "main.img"), DISK_BYTES);
    const spare = await sparseFile(join(dir.path, "spare.img"), 1 << 20);
    const created = await runCli(["create", "--main", main, "--spare", spare, "--name", "dd1"]);
    assert.equal(created.code, 0, created.stderr);
    const set = ["--spare", spare, "--state-dir", stateDir];

    const dry = await dmremapJson<ImportAnswer>(["import", "ddrescue", map, ...set, "--dry-run"]);
    assert.equal(dry.dryRun, true);
    assert.deepEqual(dry.plan.markPending, EXPECTED);
    assert.deepEqual((await dmremapJson<{ pending: number[] }>(["list", ...set.slice(0, 2)])).pending, []);

    const done = await dmremapJson<ImportAnswer>(["import", "ddrescue", map, ...set]);
    assert.deepEqual(done.plan.markPending, EXPECTED);
    assert.deepEqual(
      (await dmremapJson<{ pending: number[] }>(["list", ...set.slice(0, 2)])).pending,
      EXPECTED,
    );

    const again = await dmremapJson<ImportAnswer>(["import", "ddrescue", map, ...set]);
    assert.deepEqual(again.plan.markPending, []);
    assert.deepEqual(again.plan.alreadyPending, EXPECTED);

    const text = await runCli(["import", "ddrescue", map, ...set, "--dry-run"]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /would mark pending: 0 block\(s\)/);
    assert.match(text.stdout, new RegExp(`unchanged: ${EXPECTED.length} already pending`));
  });

  it("a whole-disk mapfile imports into a partition with --main-offset", async () => {
    const partStart = 1 << 20;
    const main = await sparseFile(join(dir.path, "part.img"), 2 << 20);
    const spare = await sparseFile(join(dir.path, "part-spare.img"), 1 << 20);
    assert.equal((await runCli(["create", "--main", main, "--spare", spare, "--name", "dd2"])).code, 0);
    const inside = BAD.filter(
      (b) => b.startBytes + b.lengthBytes > partStart && b.startBytes < partStart + (2 << 20),
    );
    const expected = blocksOf(inside, BLOCK, partStart).filter((b) => b < (2 << 20) / BLOCK);
    assert.ok(
      expected.length > 0 && expected.length < EXPECTED.length,
      "the partition holds some of the bad sectors",
    );
    const done = await dmremapJson<ImportAnswer>([
      "import",
      "ddrescue",
      map,
      "--spare",
      spare,
      "--state-dir",
      stateDir,
      "--main-offset",
      "1M",
    ]);
    assert.deepEqual(done.plan.markPending, expected);
  });

  it("ddrescue -n leaves non-scraped areas: they become suspects, bad edges pending, together the bad blocks", async () => {
    const quick = join(dir.path, "quick.map");
    await mustRun("ddrescue", ["-d", "-n", "-b", "512", disk!.file, join(dir.path, "quick.img"), quick], {
      timeoutMs: 60_000,
    });
    assert.match(await readFile(quick, "utf8"), /\s\/\s*$/m, "ddrescue -n leaves / blocks");
    const main = await sparseFile(join(dir.path, "q.img"), DISK_BYTES);
    const spare = await sparseFile(join(dir.path, "q-spare.img"), 1 << 20);
    assert.equal((await runCli(["create", "--main", main, "--spare", spare, "--name", "dd3"])).code, 0);
    const set = ["--spare", spare, "--state-dir", stateDir];
    const done = await dmremapJson<ImportAnswer>(["import", "ddrescue", quick, ...set]);
    assert.ok(done.plan.addSuspects.length > 0);
    assert.deepEqual(
      [...done.plan.markPending, ...done.plan.addSuspects].sort((a, b) => a - b),
      EXPECTED,
    );
    const exported = await runCli(["export", "ddrescue", ...set]);
    assert.equal(exported.code, 0, exported.stderr);
    assert.match(exported.stdout, /\s\*\s*$/m, "suspects export as *");
  });

  it("ddrescuelog accepts our exported mapfile and reports the same bad area", async () => {
    const spare = join(dir.path, "spare.img");
    // A remapped block is readable: + in the export, not part of the bad area.
    const remap = await runCli(["remap", "--spare", spare, "3"]);
    assert.equal(remap.code, 0, remap.stderr);
    const out = join(dir.path, "export.map");
    const exported = await runCli([
      "export",
      "ddrescue",
      "--spare",
      spare,
      "--state-dir",
      stateDir,
      "-o",
      out,
    ]);
    assert.equal(exported.code, 0, exported.stderr);
    await mustRun("ddrescuelog", ["-t", out]);
    const ours = await mustRun("ddrescuelog", ["-b", "4096", "-l-", out]);
    assert.deepEqual(ours.stdout.trim().split("\n").map(Number), EXPECTED);
    // Same bad area as ddrescue's own mapfile, at the 4 KiB granularity of the set.
    const theirs = await mustRun("ddrescuelog", ["-b", "4096", "-l-", map]);
    assert.deepEqual(theirs.stdout.trim().split("\n").map(Number), EXPECTED);
    // ddrescuelog's summary of our export reports the bad area of a mapfile it builds itself from the list.
    const reference = join(dir.path, "reference.map");
    const created = await mustRun("ddrescuelog", ["-b", "4096", "-c-+", "-"], {
      input: EXPECTED.join("\n") + "\n",
    });
    await writeFile(reference, created.stdout);
    const badLine = (text: string) => /^\s*bad-sector:.*area\(s\)/m.exec(text)?.[0].trim();
    const summary = (await mustRun("ddrescuelog", ["-t", out])).stdout;
    assert.ok(badLine(summary), summary);
    assert.equal(badLine(summary), badLine((await mustRun("ddrescuelog", ["-t", reference])).stdout));
    assert.match(summary, /non-tried:\s+0 B/);
  });

  it("a malformed mapfile is refused with one line naming the file and line, before any device is opened", async () => {
    const bad = join(dir.path, "bad.map");
    await writeFile(bad, "# comment\n0 ?\n0 0x200 +\n0x100 0x200 -\n");
    const result = await runCli(["import", "ddrescue", bad, "--spare", join(dir.path, "missing.img")]);
    assert.equal(result.code, 1);
    assert.equal(result.stderr.trim().split("\n").length, 1, result.stderr);
    assert.match(result.stderr, /bad\.map: line 4: block at 0x100 overlaps the previous block/);
  });

  it("online import through the daemon's API is idempotent and the export matches", async () => {
    const main = await sparseFile(join(dir.path, "online.img"), DISK_BYTES);
    const spare = await sparseFile(join(dir.path, "online-spare.img"), 1 << 20);
    const apiSocket = join(dir.path, "api.sock");
    const config = join(dir.path, "online.toml");
    await writeFile(
      config,
      `[api]\nlisten = "unix:${apiSocket}"\n[nbd]\nlisten = ["unix:${join(dir.path, "nbd.sock")}"]\n` +
        `[[target]]\nname = "on"\nmain = "${main}"\nspares = ["${spare}"]\ncreate = true\n` +
        `[target.scan]\nmode = "manual"\n`,
    );
    const program = await startProgram(["serve", "--config", config]);
    try {
      const online = ["--api", `unix:${apiSocket}`];
      const dry = await dmremapJson<ImportAnswer>(["import", "ddrescue", map, ...online, "--dry-run"]);
      assert.deepEqual(dry.plan.markPending, EXPECTED);
      assert.deepEqual((await api(`unix:${apiSocket}`, "GET", "/v1/targets/on/pending")).json, {
        blocks: [],
      });
      const done = await dmremapJson<ImportAnswer>(["import", "ddrescue", map, ...online]);
      assert.deepEqual(done.plan.markPending, EXPECTED);
      assert.deepEqual((await api(`unix:${apiSocket}`, "GET", "/v1/targets/on/pending")).json, {
        blocks: EXPECTED,
      });
      const again = await dmremapJson<ImportAnswer>(["import", "ddrescue", map, ...online]);
      assert.deepEqual(again.plan.markPending, []);
      const exported = await runCli(["export", "ddrescue", ...online]);
      assert.equal(exported.code, 0, exported.stderr);
      const out = join(dir.path, "online-export.map");
      await writeFile(out, exported.stdout);
      const listed = await mustRun("ddrescuelog", ["-b", "4096", "-l-", out]);
      assert.deepEqual(listed.stdout.trim().split("\n").map(Number), EXPECTED);
      // The scanner has not completed a pass: everything not known bad was never read (?).
      const blockStates = (text: string) =>
        text
          .split("\n")
          .filter((l) => /^0x/.test(l))
          .map((l) => l.trim().slice(-1));
      assert.ok(blockStates(exported.stdout).includes("?"), exported.stdout);
      // After a complete pass nothing is left unread.
      const base = `unix:${apiSocket}`;
      const started = await api(base, "POST", "/v1/targets/on/scan/start");
      assert.equal(started.status, 200, started.text);
      let passes = 0;
      for (let i = 0; i < 10_000 && passes === 0; i++) {
        const scan = (await api(base, "GET", "/v1/targets/on/scan")).json as {
          history: { result: string }[];
        };
        passes = scan.history.filter((p) => p.result === "complete").length;
      }
      assert.equal(passes, 1, "the scan pass completed");
      const after = await runCli(["export", "ddrescue", ...online]);
      assert.equal(after.code, 0, after.stderr);
      assert.ok(!blockStates(after.stdout).includes("?"), after.stdout);
    } finally {
      await program.stop();
    }
  });
});
