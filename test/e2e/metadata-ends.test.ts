// End-to-end: a single-spare set survives the usual accidents to its spare through the real CLI:
// the first or last 1 MiB zeroed, garbage over the head superblocks, `wipefs -a` (on a loop device);
// `check` reports the damage, `check --repair` rewrites the lost end, the table stays intact. Also
// the upgrade of a format version 1 set (the fixture image) through `check --repair`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { open, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { cliJson, mustRun, runCli, tempDir } from "./harness.js";
import { requireTools, seededBytes, sparseFile } from "./tools.js";

interface Listing {
  entries: { block: number; slot: number }[];
  pending: number[];
}

const FIXTURE = fileURLToPath(new URL("../../../src/metadata/fixtures/v1-spare.img.gz", import.meta.url));
const MIB = 1 << 20;

async function overwrite(path: string, offset: number, data: Uint8Array): Promise<void> {
  const h = await open(path, "r+");
  await h.write(data, 0, data.length, offset);
  await h.close();
}

/** A fresh single-spare set with three remapped blocks; returns the spare path and its listing. */
async function makeSet(dir: string): Promise<{ spare: string; listing: Listing }> {
  const main = await sparseFile(join(dir, "main.img"), 16 * MIB);
  const spare = await sparseFile(join(dir, "spare.img"), 4 * MIB);
  const created = await runCli(["create", "--main", main, "--spare", spare, "--name", "ends"]);
  assert.equal(created.code, 0, created.stderr);
  const remapped = await runCli(["remap", "--spare", spare, "5", "9", "100"]);
  assert.equal(remapped.code, 0, remapped.stderr);
  const listing = await cliJson<Listing>(["list", "--spare", spare]);
  assert.deepEqual(
    listing.entries.map((e) => e.block),
    [5, 9, 100],
  );
  return { spare, listing };
}

/** After `damage`, the table is intact, check reports (unless `harmless`), repair fixes, check is clean. */
async function survives(
  name: string,
  damage: (spare: string) => Promise<void>,
  harmless = false,
): Promise<void> {
  const dir = await tempDir();
  try {
    const { spare, listing } = await makeSet(dir.path);
    await damage(spare);
    assert.deepEqual(await cliJson<Listing>(["list", "--spare", spare]), listing, `${name}: table intact`);
    const found = await runCli(["check", "--spare", spare]);
    if (harmless) assert.equal(found.code, 0, `${name}: ${found.stdout}${found.stderr}`);
    else {
      assert.equal(found.code, 1, `${name}: check must report the damage: ${found.stdout}${found.stderr}`);
      assert.match(found.stdout, /problems found; run with --repair/);
    }
    const repaired = await runCli(["check", "--spare", spare, "--repair"]);
    assert.equal(repaired.code, 0, `${name}: ${repaired.stdout}${repaired.stderr}`);
    const clean = await runCli(["check", "--spare", spare]);
    assert.equal(clean.code, 0, `${name}: ${clean.stdout}`);
    assert.match(clean.stdout, /all copies ok/);
    assert.deepEqual(
      await cliJson<Listing>(["list", "--spare", spare]),
      listing,
      `${name}: table after repair`,
    );
  } finally {
    await dir.cleanup();
  }
}

test("first 1 MiB of the spare zeroed: found from the tail, head rewritten by check --repair", async () => {
  await survives("first MiB", (spare) => overwrite(spare, 0, new Uint8Array(MIB)));
});

test("last 1 MiB of the spare zeroed: found from the head, tail rewritten by check --repair", async () => {
  await survives("last MiB", async (spare) =>
    overwrite(spare, (await stat(spare)).size - MIB, new Uint8Array(MIB)),
  );
});

test("random garbage over the head superblocks is survived and repaired", async () => {
  await survives("garbage", (spare) => overwrite(spare, 0, seededBytes(7, 8192)));
});

test("wipefs -a on the spare (a loop device) is survived", async () => {
  await requireTools("wipefs", "losetup");
  await survives(
    "wipefs",
    async (spare) => {
      const loop = (await mustRun("losetup", ["--find", "--show", spare])).stdout.trim();
      try {
        await mustRun("wipefs", ["-a", loop]);
      } finally {
        await mustRun("losetup", ["-d", loop]);
      }
      await mustRun("wipefs", ["-a", spare]);
    },
    true,
  );
});

test("a format 1 set (fixture made by the version 1 code) is reported and upgraded by check --repair", async () => {
  const dir = await tempDir();
  try {
    const spare = join(dir.path, "v1-spare.img");
    await writeFile(spare, gunzipSync(await readFile(FIXTURE)));
    // The fixture's main (2 MiB, recorded as "main.img" relative to where it was made) is given here.
    const main = await sparseFile(join(dir.path, "main.img"), 2 * MIB);
    const before = await runCli(["check", "--spare", spare]);
    assert.equal(before.code, 1, before.stdout + before.stderr);
    assert.match(before.stdout, /format 1,/);
    assert.match(before.stdout, /upgraded to version 2 by the next read-write open/);
    const listed = await cliJson<Listing>(["list", "--spare", spare, "--main", main]);
    assert.deepEqual(
      listed.entries.map((e) => e.block),
      [3, 17, 200, 300, 301],
    );
    const upgraded = await runCli(["check", "--spare", spare, "--repair"]);
    assert.equal(upgraded.code, 0, upgraded.stdout + upgraded.stderr);
    assert.match(upgraded.stdout, /upgraded set "fixture-v1" .* from format 1 to format 2/);
    const after = await runCli(["check", "--spare", spare]);
    assert.equal(after.code, 0, after.stdout);
    assert.match(after.stdout, /format 2, .*\n[\s\S]*all copies ok/);
    const relisted = await cliJson<Listing>(["list", "--spare", spare, "--main", main]);
    assert.deepEqual(
      relisted.entries.map((e) => e.block),
      [3, 17, 200, 300, 301],
    );
    assert.deepEqual(relisted.pending, [40, 500]);
  } finally {
    await dir.cleanup();
  }
});
