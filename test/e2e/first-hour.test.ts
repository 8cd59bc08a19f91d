// The "First hour with dmremap" guide in docs/OPERATIONS.md works as written: its shell blocks are
// taken from the markdown and run in order with `dmremap` on PATH and a scratch HOME; the block
// for "a second terminal" runs in the background until the guide says to press Ctrl-C.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { chmod, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CLI, run, tempDir, TOOL_ENV } from "./harness.js";
import { requireTools } from "./tools.js";

const GUIDE = fileURLToPath(new URL("../../../docs/OPERATIONS.md", import.meta.url));

interface Step {
  /** The prose before the block. */
  readonly prose: string;
  readonly script: string;
}

/** The sh blocks of the "First hour" section, each with the prose that leads to it. */
function guideSteps(): Step[] {
  const text = readFileSync(GUIDE, "utf8");
  const start = text.indexOf("\n## First hour with dmremap\n");
  assert.ok(start >= 0, "OPERATIONS.md has the First hour section");
  const end = text.indexOf("\n## ", start + 1);
  const section = text.slice(start, end < 0 ? undefined : end);
  const steps: Step[] = [];
  let last = 0;
  for (const m of section.matchAll(/```sh\n([\s\S]*?)```/g)) {
    steps.push({ prose: section.slice(last, m.index), script: m[1]! });
    last = m.index! + m[0].length;
  }
  return steps;
}

test("the First hour guide runs as written", async () => {
  await requireTools("nbdinfo", "qemu-io", "curl", "truncate");
  const steps = guideSteps();
  assert.ok(steps.length >= 6, "the guide has its steps");
  const home = await tempDir("dmremap-first-hour-");
  const bin = join(home.path, "bin");
  await mkdir(bin);
  await writeFile(join(bin, "dmremap"), `#!/bin/sh\nexec "${process.execPath}" "${CLI}" "$@"\n`);
  await chmod(join(bin, "dmremap"), 0o755);
  const env = { ...TOOL_ENV, HOME: home.path, PATH: `${bin}:${TOOL_ENV.PATH}` };
  const work = join(home.path, "dmremap-first-hour");
  let daemon: { stop(): Promise<string> } | undefined;
  const outputs: string[] = [];
  try {
    for (const [i, step] of steps.entries()) {
      if (/press Ctrl-C in the second terminal/i.test(step.prose)) {
        assert.ok(daemon, `step ${i}: the guide stops a daemon it started`);
        const log = await daemon.stop();
        assert.match(log, /"msg":"stopped"/, `Ctrl-C stops the daemon cleanly:\n${log}`);
        daemon = undefined;
      }
      const cwd = existsSync(work) ? work : home.path;
      if (/in a second terminal/i.test(step.prose)) {
        daemon = await background(step.script, cwd, env);
        continue;
      }
      const result = await run("sh", ["-ec", `cd '${cwd}'\n${step.script}`], { env, timeoutMs: 60_000 });
      assert.equal(result.code, 0, `step ${i} failed:\n${step.script}\n${result.stdout}\n${result.stderr}`);
      outputs.push(result.stdout);
    }
    assert.equal(daemon, undefined, "the guide stops the daemon it started");
    const all = outputs.join("\n");
    assert.match(all, /^dmremap \d+\.\d+\.\d+$/m);
    assert.match(all, /block 10 is unreadable, as expected/);
    assert.match(all, /^dmremap_remapped_blocks\{target="first"\} 2$/m);
    assert.ok(!existsSync(work), "the guide cleans up after itself");
  } finally {
    await daemon?.stop();
    await home.cleanup();
  }
});

/** Run a block the way a second terminal would: its own process group, Ctrl-C goes to the group. */
async function background(
  script: string,
  cwd: string,
  env: NodeJS.ProcessEnv,
): Promise<{ stop(): Promise<string> }> {
  const child = spawn("sh", ["-ec", script], {
    cwd,
    env,
    detached: true,
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  // The pipe closes once every process of the group (the shell and dmremap) has exited.
  const closed = new Promise<void>((resolve) => child.stderr.on("close", () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
      if (stderr.includes('"msg":"ready"')) resolve();
    });
    void exited.then((code) => reject(new Error(`the second-terminal block exited (${code}):\n${stderr}`)));
  });
  return {
    async stop() {
      // Ctrl-C in a terminal signals the whole foreground process group.
      if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, "SIGINT");
      await closed;
      return stderr;
    },
  };
}
