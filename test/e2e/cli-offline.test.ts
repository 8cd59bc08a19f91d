// End-to-end: the offline CLI (create, status, list, remap, unremap, check, info) on temp files, run as
// the real `dmremap` program; bad input must give one clear stderr line and a non-zero exit.
import { test } from "node:test";
import assert from "node:assert/strict";
import { open } from "node:fs/promises";
import { join } from "node:path";
import { cliJson, runCli, tempDir, type RunResult } from "./harness.js";
import { seededBytes, sparseFile } from "./tools.js";

interface Status {
  name: string;
  uuid: string;
  state: string;
  blockSize: number;
  sizeBytes: number;
  remappedBlocks: number;
  pendingBlocks: number;
  lostSectors: number;
  spare: { totalBlocks: number; usedBlocks: number };
  errors: { read: number; write: number };
  metadata: { generation: number; copies: { device: string; slot: string; state: string }[] };
}

interface Listing {
  entries: { block: number; slot: number; spare: number; spareOffsetBytes?: number }[];
  pending: number[];
}

/** Exactly one line on stderr that contains every `needle`, and a non-zero exit. */
function assertOneLineError(result: RunResult, ...needles: string[]): void {
  assert.notEqual(result.code, 0, `expected a failure, got exit 0; stdout: ${result.stdout}`);
  const lines = result.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `expected one stderr line, got:\n${result.stderr}`);
  for (const n of needles) assert.ok(lines[0]!.includes(n), `stderr should name "${n}": ${lines[0]}`);
}

/** Overwrite `length` bytes at `offset` of a file with seeded noise. */
async function garble(path: string, offset: number, length: number, seed: number): Promise<void> {
  const h = await open(path, "r+");
  await h.write(seededBytes(seed, length), 0, length, offset);
  await h.close();
}

async function makeFiles(dir: string, files: Record<string, number>): Promise<Record<string, string>> {
  const paths: Record<string, string> = {};
  for (const [name, size] of Object.entries(files)) {
    paths[name] = await sparseFile(join(dir, `${name}.img`), size);
  }
  return paths;
}

test("create, status, list, remap, unremap and check on a two-spare set", async () => {
  const dir = await tempDir();
  try {
    const f = await makeFiles(dir.path, { main: 16 << 20, s1: 2 << 20, s2: 2 << 20 });
    const set = ["--spare", f.s1!, "--spare", f.s2!];
    const created = await cliJson<Status>(["create", "--main", f.main!, ...set, "--name", "off1"]);
    assert.equal(created.name, "off1");

    const status = await cliJson<Status>(["status", ...set]);
    assert.equal(status.name, "off1");
    assert.match(status.uuid, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.equal(status.uuid, created.uuid);
    assert.equal(status.blockSize, 4096);
    assert.equal(status.sizeBytes, 16 << 20);
    assert.equal(status.remappedBlocks, 0);
    assert.equal(status.pendingBlocks, 0);
    assert.equal(status.lostSectors, 0);
    assert.ok(status.spare.totalBlocks > 0, "spare slots exist");
    assert.equal(status.spare.usedBlocks, 0);
    assert.equal(status.errors.read, 0);
    assert.equal(status.errors.write, 0);
    assert.ok(status.metadata.generation >= 1);
    assert.deepEqual(
      status.metadata.copies.map((c) => c.device),
      [f.s1, f.s2],
    );
    for (const c of status.metadata.copies) assert.match(c.slot, /^[AB]$/);

    // Data of a remapped block is copied to the spare: put a pattern on main first.
    const pattern = seededBytes(7, 4096);
    const fh = await open(f.main!, "r+");
    await fh.write(pattern, 0, 4096, 9 * 4096);
    await fh.close();
    const remap = await runCli(["remap", ...set, "5", "9"]);
    assert.equal(remap.code, 0, remap.stderr);
    let listing = await cliJson<Listing>(["list", ...set]);
    assert.deepEqual(
      listing.entries.map((e) => e.block),
      [5, 9],
    );
    assert.deepEqual(listing.pending, []);
    const e9 = listing.entries.find((e) => e.block === 9)!;
    assert.equal(typeof e9.spareOffsetBytes, "number", "list --json gives the slot's byte offset");
    const spareFile = e9.spare === 0 ? f.s1! : f.s2!;
    const sh = await open(spareFile, "r");
    const onSpare = Buffer.alloc(4096);
    await sh.read(onSpare, 0, 4096, e9.spareOffsetBytes!);
    await sh.close();
    assert.ok(onSpare.equals(pattern), "remap copied block 9's data into its spare slot");

    const unremap = await runCli(["unremap", ...set, "5"]);
    assert.equal(unremap.code, 0, unremap.stderr);
    listing = await cliJson<Listing>(["list", ...set]);
    assert.deepEqual(
      listing.entries.map((e) => e.block),
      [9],
    );
    const after = await cliJson<Status>(["status", ...set]);
    assert.equal(after.remappedBlocks, 1);
    assert.equal(after.spare.usedBlocks, 1);
    assert.ok(after.metadata.generation > status.metadata.generation, "generation grows with changes");

    const clean = await runCli(["check", ...set]);
    assert.equal(clean.code, 0, `clean set: ${clean.stdout}${clean.stderr}`);

    // Garble checkpoint slot A's header on spare 2 (the current or the previous checkpoint of that copy).
    await garble(f.s2!, 8192, 4096, 99);
    const damaged = await runCli(["check", ...set]);
    assert.equal(damaged.code, 1, `damaged copy must be reported: ${damaged.stdout}${damaged.stderr}`);
    assert.ok(damaged.stdout.includes(f.s2!), `the report names the damaged spare:\n${damaged.stdout}`);
    const repaired = await runCli(["check", "--repair", ...set]);
    assert.equal(repaired.code, 0, `repair: ${repaired.stdout}${repaired.stderr}`);
    const again = await runCli(["check", ...set]);
    assert.equal(again.code, 0, `after repair: ${again.stdout}${again.stderr}`);
    assert.match(again.stdout, /all copies ok/);
    listing = await cliJson<Listing>(["list", ...set]);
    assert.deepEqual(
      listing.entries.map((e) => e.block),
      [9],
      "the table survived the repair",
    );
  } finally {
    await dir.cleanup();
  }
});

test("one check --repair restores a copy whose whole metadata area was destroyed", async () => {
  const dir = await tempDir();
  try {
    const f = await makeFiles(dir.path, { main: 16 << 20, s1: 2 << 20, s2: 2 << 20 });
    const set = ["--spare", f.s1!, "--spare", f.s2!];
    assert.equal((await runCli(["create", "--main", f.main!, ...set])).code, 0);
    assert.equal((await runCli(["remap", ...set, "3"])).code, 0);
    const entry = (await cliJson<Listing>(["list", ...set])).entries[0]!;
    const metadataEnd = entry.spareOffsetBytes! - entry.slot * 4096;
    // Both checkpoint slots and the journal of spare 2; its superblocks stay, so it is still recognised.
    await garble(f.s2!, 8192, metadataEnd - 8192, 5);
    const damaged = await runCli(["check", ...set]);
    assert.equal(damaged.code, 1, `damaged copy must be reported: ${damaged.stdout}`);
    const repaired = await runCli(["check", "--repair", ...set]);
    assert.equal(repaired.code, 0, `repair: ${repaired.stdout}${repaired.stderr}`);
    const again = await runCli(["check", ...set]);
    assert.equal(again.code, 0, `one repair must be enough; second check:\n${again.stdout}`);
  } finally {
    await dir.cleanup();
  }
});

test("offline status of a healthy, unserved set says healthy with every copy ok", async () => {
  const dir = await tempDir();
  try {
    const f = await makeFiles(dir.path, { main: 16 << 20, s1: 2 << 20, s2: 2 << 20 });
    const set = ["--spare", f.s1!, "--spare", f.s2!];
    assert.equal((await runCli(["create", "--main", f.main!, ...set])).code, 0);
    const status = await cliJson<Status>(["status", ...set]);
    // Inspecting a set must report the set's state, not an artefact of opening it read-only.
    assert.deepEqual(
      { state: status.state, copies: status.metadata.copies.map((c) => c.state) },
      { state: "healthy", copies: ["ok", "ok"] },
    );
  } finally {
    await dir.cleanup();
  }
});

test("create refuses formatted or foreign spares and mismatched mains, naming the device", async () => {
  const dir = await tempDir();
  try {
    const f = await makeFiles(dir.path, {
      main: 16 << 20,
      other: 16 << 20,
      small: 8 << 20,
      s1: 2 << 20,
      s2: 2 << 20,
      t1: 2 << 20,
    });
    assert.equal((await runCli(["create", "--main", f.main!, "--spare", f.s1!, "--name", "a"])).code, 0);
    assert.equal((await runCli(["create", "--main", f.other!, "--spare", f.t1!, "--name", "b"])).code, 0);

    const again = await runCli(["create", "--main", f.other!, "--spare", f.s1!, "--name", "c"]);
    assertOneLineError(again, f.s1!);
    const still = await cliJson<Status>(["status", "--spare", f.s1!]);
    assert.equal(still.name, "a", "the refused create left the set alone");

    const forced = await runCli(["create", "--main", f.other!, "--spare", f.s2!, "--name", "d"]);
    assert.equal(forced.code, 0, forced.stderr);
    const overwritten = await runCli([
      "create",
      "--main",
      f.other!,
      "--spare",
      f.s2!,
      "--name",
      "e",
      "--force",
    ]);
    assert.equal(overwritten.code, 0, `--force overwrites: ${overwritten.stderr}`);
    assert.equal((await cliJson<Status>(["status", "--spare", f.s2!])).name, "e");

    // A spare of another set among this set's spares.
    const foreign = await runCli(["status", "--spare", f.s1!, "--spare", f.t1!, "--json"]);
    assertOneLineError(foreign, f.t1!);
    // A main of the wrong size, given at serve time.
    const wrongMain = await runCli([
      "serve",
      "--spare",
      f.s1!,
      "--main",
      f.small!,
      "--listen",
      `unix:${join(dir.path, "nbd.sock")}`,
      "--api",
      "tcp:127.0.0.1:0",
    ]);
    assert.notEqual(wrongMain.code, 0, "serve with a wrong main must fail");
    assert.ok(
      wrongMain.stderr.includes(f.small!),
      `serve names the mismatched main device:\n${wrongMain.stderr}`,
    );
  } finally {
    await dir.cleanup();
  }
});

test("bad device specs give one clear line naming the bad value", async () => {
  const dir = await tempDir();
  try {
    const f = await makeFiles(dir.path, { odd: 1000, s1: 2 << 20 });
    const missing = join(dir.path, "missing.img");
    assertOneLineError(await runCli(["info", missing]), missing, "no such file");
    assertOneLineError(await runCli(["info", f.odd!]), f.odd!, "1000");
    assertOneLineError(await runCli(["info", "foo:bar"]), "foo");
    assertOneLineError(await runCli(["info", "slice:offset=-1M:mem:1M"]), "-1M");
    assertOneLineError(await runCli(["info", "dust:block=9-5:mem:1M"]), "9-5");
    assertOneLineError(await runCli(["info", "mem:1000"]), "1000");
    assertOneLineError(await runCli(["create", "--main", missing, "--spare", f.s1!]), missing);
    assertOneLineError(await runCli(["create", "--main", "mem:1M", "--spare", "bogus:x"]), "bogus");
    assertOneLineError(
      await runCli(["create", "--main", "mem:1M", "--spare", f.s1!, "--block-size", "3000"]),
      "3000",
    );
    const ok = await runCli(["info", "dust:block=5:mem:1M", "--json"]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal((JSON.parse(ok.stdout) as { sizeBytes: number }).sizeBytes, 1 << 20);
  } finally {
    await dir.cleanup();
  }
});
