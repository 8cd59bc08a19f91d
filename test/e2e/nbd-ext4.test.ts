// ext4 over the in-process NBD server through nbdfuse: mkfs.ext4, debugfs writes, e2fsck -fn clean,
// and the written file reads back. The export advertises minimum block size 1 because nbdfuse
// forwards debugfs's unaligned I/O and libnbd rejects misaligned requests client-side.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { run, start, startE2eServer } from "./nbd-support.js";

test("nbdfuse + mkfs.ext4 + debugfs writes + e2fsck -fn", async () => {
  if (!existsSync("/dev/fuse")) throw new Error("/dev/fuse is missing: the ext4 interop test needs FUSE");
  const srv = await startE2eServer({ sizeBytes: 64 << 20, minimumBlockSize: 1 });
  const mnt = join(srv.dir, "mnt");
  mkdirSync(mnt);
  const fuse = start("nbdfuse", [mnt, "--unix", srv.path]);
  let mounted = false;
  try {
    const image = join(mnt, "nbd");
    for (let i = 0; i < 500 && !existsSync(image); i++) {
      if (fuse.child.exitCode !== null) throw new Error("nbdfuse exited before mounting");
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(existsSync(image), "nbdfuse mounted the export");
    mounted = true;
    await run("mkfs.ext4", ["-q", "-F", image], { timeoutMs: 60_000 });
    const payload = join(srv.dir, "payload.txt");
    writeFileSync(payload, "dmremap says hello\n".repeat(1000));
    await run("debugfs", ["-w", "-R", `write ${payload} payload.txt`, image], { timeoutMs: 30_000 });
    await run("debugfs", ["-w", "-R", "mkdir dir", image], { timeoutMs: 30_000 });
    const fsck = await run("e2fsck", ["-fn", image], { timeoutMs: 60_000, allowFailure: true });
    assert.equal(fsck.code, 0, `e2fsck found problems:\n${fsck.stdout}${fsck.stderr}`);
    const cat = await run("debugfs", ["-R", "cat payload.txt", image], { timeoutMs: 30_000 });
    assert.equal(cat.stdout, "dmremap says hello\n".repeat(1000));
  } finally {
    if (mounted) await run("fusermount3", ["-u", mnt], { timeoutMs: 20_000, allowFailure: true });
    await fuse.stop();
    await srv.stop();
  }
});
