// End-to-end: `dmremap affected` on an ext4 filesystem (inside main at 1 MiB) with known files over
// known pending blocks names exactly those files, and marks the metadata blocks it hits.
import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { mustRun, runCli, tempDir } from "./harness.js";
import { dmremapJson } from "./formats-support.js";
import { requireTools, seededBytes, sparseFile } from "./tools.js";

const FS_OFFSET = 1 << 20;
const FS_BLOCK = 1024;
const SET_BLOCK = 4096;

interface Affected {
  fsBlockSize: number;
  blocks: {
    fsBlock: number;
    cause: string;
    block: number;
    inode: number | null;
    paths: string[];
    metadata: string | null;
  }[];
}

test("affected names exactly the files over pending blocks and marks metadata", async () => {
  await requireTools("mkfs.ext4", "debugfs", "dumpe2fs");
  const dir = await tempDir("dmremap-formats-affected-");
  try {
    const tree = join(dir.path, "tree");
    await mkdir(join(tree, "docs"), { recursive: true });
    const files: Record<string, number> = {
      "/a.bin": 20_000,
      "/b.bin": 9_000,
      "/docs/c.bin": 30_000,
      "/docs/d.txt": 100,
      "/e.bin": 12_000,
    };
    let seed = 1;
    for (const [path, size] of Object.entries(files))
      await writeFile(join(tree, path), seededBytes(seed++, size));
    const main = await sparseFile(join(dir.path, "main.img"), 8 << 20);
    await mustRun("mkfs.ext4", [
      "-q",
      "-F",
      "-b",
      String(FS_BLOCK),
      "-E",
      `offset=${FS_OFFSET}`,
      "-d",
      tree,
      main,
      "7M",
    ]);
    const fs = `${main}?offset=${FS_OFFSET}`;

    // Forward map (debugfs blocks) of every file: the oracle for the reverse lookup under test.
    const owner = new Map<number, string>();
    for (const path of Object.keys(files)) {
      const out = await mustRun("debugfs", ["-R", `blocks ${path}`, fs]);
      for (const b of out.stdout.trim().split(/\s+/).filter(Boolean).map(Number)) owner.set(b, path);
    }
    const setBlockOf = (fsBlock: number) => Math.floor((FS_OFFSET + fsBlock * FS_BLOCK) / SET_BLOCK);
    const fsBlocksOf = (block: number) =>
      [0, 1, 2, 3].map((i) => (block * SET_BLOCK - FS_OFFSET) / FS_BLOCK + i);
    const first = (path: string) => Math.min(...[...owner].filter(([, p]) => p === path).map(([b]) => b));
    // The third block of a.bin, the first of docs/c.bin, and the block holding superblock and descriptors.
    const pending = [
      ...new Set([setBlockOf(first("/a.bin") + 2), setBlockOf(first("/docs/c.bin")), setBlockOf(1)]),
    ].sort((a, b) => a - b);
    const expected = [
      ...new Set(pending.flatMap(fsBlocksOf).flatMap((b) => (owner.has(b) ? [owner.get(b)!] : []))),
    ].sort();
    assert.ok(expected.includes("/a.bin") && expected.includes("/docs/c.bin"));

    const spare = await sparseFile(join(dir.path, "spare.img"), 1 << 20);
    assert.equal((await runCli(["create", "--main", main, "--spare", spare, "--name", "aff"])).code, 0);
    const marked = await runCli(["pending", "--spare", spare, ...pending.map(String)]);
    assert.equal(marked.code, 0, marked.stderr);

    const set = ["--spare", spare, "--image", main, "--offset", String(FS_OFFSET), "--fs", "ext4"];
    const result = await dmremapJson<Affected>(["affected", ...set]);
    assert.equal(result.fsBlockSize, FS_BLOCK);
    assert.deepEqual(
      result.blocks.map((b) => b.fsBlock),
      pending.flatMap(fsBlocksOf),
    );
    const named = [...new Set(result.blocks.flatMap((b) => b.paths).filter((p) => p in files))].sort();
    assert.deepEqual(named, expected);
    for (const b of result.blocks) {
      assert.equal(b.cause, "pending");
      if (owner.has(b.fsBlock)) assert.deepEqual(b.paths, [owner.get(b.fsBlock)], `fs block ${b.fsBlock}`);
    }
    const meta = (fsBlock: number) => result.blocks.find((b) => b.fsBlock === fsBlock)?.metadata;
    assert.equal(meta(0), "boot block");
    assert.equal(meta(1), "superblock (group 0)");
    assert.equal(meta(2), "group descriptors (group 0)");

    const table = await runCli(["affected", ...set]);
    assert.equal(table.code, 0, table.stderr);
    for (const path of expected)
      assert.ok(table.stdout.includes(path), `table names ${path}:\n${table.stdout}`);
    assert.match(table.stdout, /\[metadata: superblock \(group 0\)\]/);
  } finally {
    await dir.cleanup();
  }
});
