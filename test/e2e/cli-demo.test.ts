// `npm start` runs `dmremap demo`: the first run creates the images and the set and prints how to
// connect; every printed command works as printed (online `remap` included: the CLI finds the demo's
// token by itself); a second run reuses the set; a port in use gives a one-line hint and pins nothing;
// SIGTERM to the `npm start` process stops the server.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { stat } from "node:fs/promises";
import { connect } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { mustRun, run, runCli, startProgram, tempDir, TOOL_ENV, type RunningProgram } from "./harness.js";
import { requireTools } from "./tools.js";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

async function startDemo(cwd: string): Promise<{ program: RunningProgram; out: string }> {
  const program = await startProgram(["demo", "--api", "tcp:127.0.0.1:0"], { cwd });
  const out = await program.waitForStdout("Stop with Ctrl-C");
  return { program, out };
}

/** The command lines of one printed section ("Connect:", "Look and change:"), as printed. */
function section(out: string, title: string): string[] {
  const start = out.indexOf(`\n${title}\n`);
  assert.ok(start >= 0, `section "${title}" is printed:\n${out}`);
  const lines: string[] = [];
  for (const line of out.slice(start + title.length + 2).split("\n")) {
    if (!line.startsWith("  ")) break;
    lines.push(line.trim());
  }
  return lines;
}

/** Does something accept TCP connections on this port? */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

test("demo: every printed command works as printed, online remap included; a second run reuses the set", async () => {
  await requireTools("nbdinfo", "nbdsh", "qemu-img", "qemu-io", "curl");
  const dir = await tempDir();
  const data = join(dir.path, "data");
  let program: RunningProgram | undefined;
  try {
    const first = await startDemo(dir.path);
    program = first.program;
    assert.match(first.out, /first run: wrote .*dmremap\.toml/);
    assert.equal((await stat(join(data, "main.img"))).size, 1 << 30);
    assert.equal((await stat(join(data, "spare.img"))).size, 64 << 20);
    assert.equal((await stat(join(data, "api-token"))).mode & 0o777, 0o600, "the demo token is private");
    assert.match(first.out, /bad blocks read EIO until they are written/);

    const connectLines = section(first.out, "Connect:");
    const lookLines = section(first.out, "Look and change:");
    // Not run here: the kernel client needs the nbd module and a free /dev/nbdN, the VM needs qemu-system.
    const skipped = connectLines.filter((l) => l.includes("nbd-client") || l.startsWith("qemu-system"));
    assert.equal(skipped.length, 2);
    assert.match(skipped[0]!, /nbd-client -unix \S+nbd\.sock \/dev\/nbd0 -N demo/);
    const runnable = [...connectLines.filter((l) => !skipped.includes(l)), ...lookLines];
    assert.ok(
      runnable.some((l) => / remap --api tcp:127\.0\.0\.1:\d+ 100 /.test(l)),
      "an online remap is printed",
    );
    assert.ok(
      runnable.every((l) => !l.includes("--token-file")),
      "run from the directory holding data/, no token flag is needed",
    );
    for (const line of runnable) {
      const result = await run("sh", ["-c", `cd '${dir.path}' && ${line}`], { timeoutMs: 60_000 });
      assert.equal(result.code, 0, `printed command failed: ${line}\n${result.stdout}\n${result.stderr}`);
    }

    const api = /status --api (\S+)/.exec(first.out)![1]!;
    const status = await runCli(["status", "--api", api, "--json"]);
    const [demo] = JSON.parse(status.stdout) as { name: string; uuid: string; remappedBlocks: number }[];
    assert.equal(demo!.name, "demo");
    assert.equal(demo!.remappedBlocks, 2, "block 8 (qemu-io write) and block 100 (online remap)");

    // A second demo on the same port: a one-line hint, and no config pinned in its data directory.
    const port = Number(api.split(":").pop());
    const other = join(dir.path, "other");
    const clash = await runCli(["demo", "--data-dir", other, "--api", `tcp:127.0.0.1:${port}`]);
    assert.equal(clash.code, 1);
    const lastLine = clash.stderr.trim().split("\n").pop()!;
    assert.equal(
      lastLine,
      `dmremap: tcp:127.0.0.1:${port} is already in use (another dmremap daemon or demo?): ` +
        "use --api unix:PATH, or --api tcp:127.0.0.1:0 for a free port (printed when ready)",
    );
    assert.equal(existsSync(join(other, "dmremap.toml")), false, "a failed first run pins no port");

    assert.equal(await program.stop("SIGTERM"), 0);
    program = undefined;

    const second = await startDemo(dir.path);
    program = second.program;
    assert.match(second.out, /reusing .*dmremap\.toml/);
    const secondApi = /status --api (\S+)/.exec(second.out)![1]!;
    const again = await runCli(["status", "demo", "--api", secondApi, "--json"]);
    const s2 = JSON.parse(again.stdout) as { uuid: string; remappedBlocks: number };
    assert.equal(s2.uuid, demo!.uuid, "the same set is reused");
    assert.equal(s2.remappedBlocks, 2);
    const uri = /nbdinfo '([^']+)'/.exec(second.out)![1]!;
    await mustRun("nbdsh", ["-u", uri, "-c", "assert h.pread(4096, 32768) == b'\\xab' * 4096"], {
      timeoutMs: 30_000,
    });
    assert.equal(await program.stop("SIGTERM"), 0);
    program = undefined;
  } finally {
    await program?.stop("SIGKILL");
    await dir.cleanup();
  }
});

test("npm start runs the built program directly: SIGTERM to npm stops the server", async () => {
  const dir = await tempDir();
  const child = spawn(
    "npm",
    ["start", "--silent", "--", "--data-dir", dir.path, "--api", "tcp:127.0.0.1:0"],
    {
      cwd: ROOT,
      env: TOOL_ENV,
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  try {
    let out = "";
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", (c: Buffer) => {
        out += c.toString();
        if (out.includes("Stop with Ctrl-C")) resolve();
      });
      void exited.then((code) =>
        reject(new Error(`npm start exited (${code}) before it was ready:\n${out}`)),
      );
    });
    const port = Number(/status --api tcp:127\.0\.0\.1:(\d+)/.exec(out)![1]);
    assert.equal(await accepts(port), true);
    child.kill("SIGTERM");
    assert.equal(await exited, 0, "npm start exits 0 once the server has stopped");
    assert.equal(await accepts(port), false, "no orphaned server keeps the API port");
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
    await dir.cleanup();
  }
});
