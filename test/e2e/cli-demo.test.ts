// `npm start` runs `dmremap demo`: first run creates the images and the set and prints how to connect;
// the printed nbdinfo URI works; a second run reuses the same set (same UUID, data kept).
import { test } from "node:test";
import assert from "node:assert/strict";
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { mustRun, run, startProgram, tempDir, type RunningProgram } from "./harness.js";
import { requireTools } from "./tools.js";

async function startDemo(dataDir: string): Promise<{ program: RunningProgram; out: string }> {
  const program = await startProgram(["demo", "--data-dir", dataDir, "--api", "tcp:127.0.0.1:0"]);
  const out = await program.waitForStdout("Stop with Ctrl-C");
  return { program, out };
}

test("demo: first run creates a 1 GiB main and 64 MiB spare, prints working instructions; second run reuses the set", async () => {
  await requireTools("nbdinfo", "nbdsh");
  const dir = await tempDir();
  const data = join(dir.path, "data");
  let program: RunningProgram | undefined;
  try {
    const first = await startDemo(data);
    program = first.program;
    assert.match(first.out, /first run: wrote .*dmremap\.toml/);
    assert.equal((await stat(join(data, "main.img"))).size, 1 << 30);
    assert.equal((await stat(join(data, "spare.img"))).size, 64 << 20);
    const uri = /nbdinfo '([^']+)'/.exec(first.out)?.[1];
    assert.ok(uri, `an nbdinfo line is printed:\n${first.out}`);
    assert.match(first.out, /nbd-client -unix \S+nbd\.sock \/dev\/nbd0 -N demo/);
    assert.match(first.out, /qemu-system-x86_64 -drive file=nbd\+unix:\/\/\/demo\?socket=/);
    const api = /npx dmremap status --api (\S+)/.exec(first.out)?.[1];
    assert.ok(api && !api.endsWith(":0"), "the status line names the real API port");
    assert.match(first.out, /curl http:\/\/127\.0\.0\.1:\d+\/metrics/);

    const info = await mustRun("nbdinfo", ["--json", uri], { timeoutMs: 30_000 });
    assert.equal(JSON.parse(info.stdout).exports[0]["export-size"], 1 << 30);
    // Block 8 is bad in the demo profile: writing it remaps it, reading returns the data.
    await mustRun("nbdsh", ["-u", uri, "-c", "h.pwrite(b'\\xab' * 4096, 32768, nbd.CMD_FLAG_FUA)"], {
      timeoutMs: 30_000,
    });
    const status = await mustRun(process.execPath, [
      join(import.meta.dirname, "../../src/cli/main.js"),
      "status",
      "--api",
      api,
      "--json",
    ]);
    const [demo] = JSON.parse(status.stdout) as { name: string; uuid: string; remappedBlocks: number }[];
    assert.equal(demo!.name, "demo");
    assert.equal(demo!.remappedBlocks, 1);
    assert.equal(await program.stop("SIGTERM"), 0);
    program = undefined;

    const second = await startDemo(data);
    program = second.program;
    assert.match(second.out, /reusing .*dmremap\.toml/);
    const secondApi = /npx dmremap status --api (\S+)/.exec(second.out)![1]!;
    const again = await run(process.execPath, [
      join(import.meta.dirname, "../../src/cli/main.js"),
      "status",
      "demo",
      "--api",
      secondApi,
      "--json",
    ]);
    const s2 = JSON.parse(again.stdout) as { uuid: string; remappedBlocks: number };
    assert.equal(s2.uuid, demo!.uuid, "the same set is reused");
    assert.equal(s2.remappedBlocks, 1);
    const read = await mustRun("nbdsh", ["-u", uri, "-c", "assert h.pread(4096, 32768) == b'\\xab' * 4096"], {
      timeoutMs: 30_000,
    });
    assert.equal(read.code, 0);
    assert.equal(await program.stop("SIGTERM"), 0);
    program = undefined;
  } finally {
    await program?.stop("SIGKILL");
    await dir.cleanup();
  }
});
