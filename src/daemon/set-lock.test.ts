import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { lockSet, SetBusyError } from "./set-lock.js";

async function withLockDir(use: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "dmremap-lock-"));
  const before = process.env.DMREMAP_LOCK_DIR;
  process.env.DMREMAP_LOCK_DIR = dir;
  try {
    await use(dir);
  } finally {
    if (before === undefined) delete process.env.DMREMAP_LOCK_DIR;
    else process.env.DMREMAP_LOCK_DIR = before;
    await rm(dir, { recursive: true, force: true });
  }
}

test("a set can be locked once; a second lock names the holder; release frees it", () =>
  withLockDir(async (dir) => {
    const lock = await lockSet("u-1", "disk0");
    assert.equal(JSON.parse(await readFile(join(dir, "u-1.lock"), "utf8")).pid, process.pid);
    await assert.rejects(
      lockSet("u-1", "disk0"),
      (err: unknown) => err instanceof SetBusyError && /disk0/.test(err.message),
    );
    await lock.release();
    await lock.release();
    assert.equal(existsSync(join(dir, "u-1.lock")), false);
    const again = await lockSet("u-1", "disk0");
    await again.release();
  }));

test("a lock left by a process that no longer exists is reclaimed", () =>
  withLockDir(async (dir) => {
    // PID 2^22 + 1 is above Linux's pid_max limit, so no process can have it.
    await writeFile(join(dir, "u-2.lock"), JSON.stringify({ pid: 4194305, holder: "dmremap serve" }));
    const lock = await lockSet("u-2", "disk1");
    assert.equal(JSON.parse(await readFile(lock.path, "utf8")).pid, process.pid);
    await lock.release();
  }));

test("a live foreign holder (pid 1) is refused with its pid in the message", () =>
  withLockDir(async (dir) => {
    await writeFile(join(dir, "u-3.lock"), JSON.stringify({ pid: 1, holder: "dmremap serve --config x" }));
    await assert.rejects(lockSet("u-3", "disk2"), /in use by process 1 \(dmremap serve --config x\)/);
  }));
