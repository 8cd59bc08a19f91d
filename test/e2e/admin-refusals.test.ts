// End-to-end: what dmremap refuses so that an administrator's mistake cannot destroy data: devices
// that overlap (same file, a slice inside the main, a partition's range, two targets on one main),
// devices that are mounted or hold a filesystem, a set a running daemon serves, and an API listener
// reachable from other machines without TLS.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { mustRun, runCli, startProgram, tempDir, type RunningProgram } from "./harness.js";
import { attachLoop, partition, type LoopDevice } from "./loop-devices.js";
import { sparseFile } from "./tools.js";

const MiB = 1 << 20;

test("overlap: the same file, a hard link and a slice inside the main's range are refused by create", async () => {
  const dir = await tempDir();
  try {
    const main = await sparseFile(join(dir.path, "main.img"), 16 * MiB);
    const link = join(dir.path, "link.img");
    await mustRun("ln", [main, link]);
    for (const spare of [main, link, `slice:offset=8M:${main}`]) {
      const r = await runCli(["create", "--main", main, "--spare", spare]);
      assert.equal(r.code, 1, `create --spare ${spare} must be refused: ${r.stdout}`);
      assert.match(r.stderr, /overlaps/, r.stderr);
      assert.ok(r.stderr.includes(`"${main}"`) && r.stderr.includes(`"${spare}"`), `names both: ${r.stderr}`);
      assert.match(r.stderr, /bytes 0-16777215 of .*main\.img/, `names the main's byte range: ${r.stderr}`);
    }
    const legal = await runCli([
      "create",
      "--main",
      `slice:length=12M:${main}`,
      "--spare",
      `slice:offset=12M:${main}`,
    ]);
    assert.equal(legal.code, 0, `a spare in the tail after a main slice is legal: ${legal.stderr}`);
  } finally {
    await dir.cleanup();
  }
});

test("overlap: two targets of one config on the same main are refused before anything is served", async () => {
  const dir = await tempDir();
  try {
    const main = await sparseFile(join(dir.path, "main.img"), 16 * MiB);
    await sparseFile(join(dir.path, "a.img"), 2 * MiB);
    await sparseFile(join(dir.path, "b.img"), 2 * MiB);
    const config = join(dir.path, "dmremap.toml");
    await writeFile(
      config,
      `[api]
listen = "unix:${dir.path}/api.sock"
[nbd]
listen = ["unix:${dir.path}/nbd.sock"]
[[target]]
name = "a"
main = "${main}"
spares = ["${dir.path}/a.img"]
create = true
[[target]]
name = "b"
main = "slice:offset=4M:${main}"
spares = ["${dir.path}/b.img"]
create = true
`,
    );
    const r = await runCli(["serve", "--config", config], { timeoutMs: 30_000 });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /main of set "a" .* overlaps main of set "b"/, r.stderr);
  } finally {
    await dir.cleanup();
  }
});

test("overlap: loop-device partitions resolve to their disk's byte range", async () => {
  const dir = await tempDir();
  let loop: LoopDevice | undefined;
  try {
    const image = await sparseFile(join(dir.path, "disk.img"), 64 * MiB);
    await partition(image, ["20M", "20M"]);
    loop = await attachLoop(image);
    // p1 covers bytes 1M..21M of the disk: a slice of the disk at 10M lies inside it.
    const inside = await runCli([
      "create",
      "--main",
      loop.partition(1),
      "--spare",
      `slice:offset=10M,length=8M:${loop.path}`,
    ]);
    assert.equal(inside.code, 1, inside.stderr);
    assert.match(inside.stderr, /overlaps/, inside.stderr);
    assert.ok(inside.stderr.includes(loop.partition(1)) && inside.stderr.includes(loop.path), inside.stderr);
    const beside = await runCli(["create", "--main", loop.partition(1), "--spare", loop.partition(2)]);
    assert.equal(beside.code, 0, `two partitions of one disk are disjoint: ${beside.stderr}`);
  } finally {
    await loop?.detach();
    await dir.cleanup();
  }
});

test("in use: a mounted filesystem is refused; an unmounted one needs --force, which names it", async () => {
  const dir = await tempDir();
  let loop: LoopDevice | undefined;
  try {
    const main = await sparseFile(join(dir.path, "main.img"), 16 * MiB);
    const image = await sparseFile(join(dir.path, "fs.img"), 16 * MiB);
    await mustRun("mkfs.ext4", ["-q", "-F", image]);
    loop = await attachLoop(image);
    const mnt = join(dir.path, "mnt");
    await mkdir(mnt);
    await loop.mount(mnt);
    const mounted = await runCli(["create", "--main", main, "--spare", loop.path, "--force"]);
    assert.equal(mounted.code, 1, mounted.stderr);
    assert.match(mounted.stderr, /mounted or in use/, mounted.stderr);
    assert.ok(mounted.stderr.includes(loop.path), mounted.stderr);
    await loop.detach();
    loop = await attachLoop(image);

    const unforced = await runCli(["create", "--main", main, "--spare", loop.path]);
    assert.equal(unforced.code, 1, unforced.stderr);
    assert.match(unforced.stderr, /contains a ext4 filesystem.*--force/, unforced.stderr);
    const forced = await runCli(["create", "--main", main, "--spare", loop.path, "--force"]);
    assert.equal(forced.code, 0, forced.stderr);
  } finally {
    await loop?.detach();
    await dir.cleanup();
  }
});

test("in use: create --force never formats the spare of a set a running daemon serves", async () => {
  const dir = await tempDir();
  let program: RunningProgram | undefined;
  try {
    const main = await sparseFile(join(dir.path, "main.img"), 16 * MiB);
    const other = await sparseFile(join(dir.path, "other.img"), 16 * MiB);
    const spare = await sparseFile(join(dir.path, "spare.img"), 2 * MiB);
    assert.equal((await runCli(["create", "--main", main, "--spare", spare, "--name", "held"])).code, 0);
    program = await startProgram([
      "serve",
      "--spare",
      spare,
      "--listen",
      `unix:${dir.path}/nbd.sock`,
      "--api",
      `unix:${dir.path}/api.sock`,
    ]);
    const r = await runCli(["create", "--main", other, "--spare", spare, "--force", "--name", "thief"]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /set "held" is in use by process \d+/, r.stderr);
    assert.equal(await program.stop("SIGTERM"), 0);
    program = undefined;
    const status = await runCli(["status", "--spare", spare, "--json"]);
    assert.equal((JSON.parse(status.stdout) as { name: string }).name, "held", "the set is intact");
  } finally {
    await program?.stop("SIGKILL");
    await dir.cleanup();
  }
});

test("the API refuses a non-loopback TCP listener without TLS unless allowed", async () => {
  const dir = await tempDir();
  try {
    const main = await sparseFile(join(dir.path, "main.img"), 16 * MiB);
    const spare = await sparseFile(join(dir.path, "spare.img"), 2 * MiB);
    assert.equal((await runCli(["create", "--main", main, "--spare", spare])).code, 0);
    const r = await runCli(
      ["serve", "--spare", spare, "--listen", `unix:${dir.path}/nbd.sock`, "--api", "tcp:0.0.0.0:0"],
      {
        timeoutMs: 30_000,
      },
    );
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /api\.listen: "tcp:0\.0\.0\.0:0" is reachable from other machines/, r.stderr);
    const allowed = await startProgram([
      "serve",
      "--spare",
      spare,
      "--listen",
      `unix:${dir.path}/nbd.sock`,
      "--api",
      "tcp:0.0.0.0:0",
      "--allow-insecure-api",
    ]);
    assert.equal(await allowed.stop("SIGTERM"), 0);
  } finally {
    await dir.cleanup();
  }
});
