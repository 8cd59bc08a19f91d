// Helpers for end-to-end tests: run the real `dmremap` program and real client tools.
import { spawn, execFile, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** Path of the compiled CLI entry point. */
export const CLI = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

/** PATH with Debian's python first, so nbdsh finds python3-libnbd even under pyenv. */
export const TOOL_ENV = { ...process.env, PATH: `/usr/bin:/usr/sbin:/bin:/sbin:${process.env.PATH ?? ""}` };

/** Result of a finished command. */
export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Run a program to completion (never throws on non-zero exit); kills it after timeoutMs. */
export function run(
  file: string,
  args: readonly string[],
  options: { timeoutMs?: number; input?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(
      file,
      args,
      { timeout: options.timeoutMs ?? 120_000, env: options.env ?? TOOL_ENV, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : 124) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
    else child.stdin?.end();
  });
}

/** Run `dmremap ARGS...`. */
export function runCli(args: readonly string[], options: { timeoutMs?: number } = {}): Promise<RunResult> {
  return run(process.execPath, [CLI, ...args], options);
}

/** Run a command and fail with its output when it exits non-zero. */
export async function mustRun(
  file: string,
  args: readonly string[],
  options: { timeoutMs?: number; input?: string } = {},
): Promise<RunResult> {
  const result = await run(file, args, options);
  if (result.code !== 0) {
    throw new Error(
      `${file} ${args.join(" ")} exited ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`,
    );
  }
  return result;
}

/** A temporary directory removed by the returned cleanup. */
export async function tempDir(prefix = "dmremap-e2e-"): Promise<{ path: string; cleanup(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, cleanup: () => rm(path, { recursive: true, force: true }) };
}

/** A running daemon started with `dmremap ARGS...`. */
export interface RunningProgram {
  readonly child: ChildProcess;
  /** Every stderr line so far (JSON log lines). */
  readonly logLines: string[];
  /** Resolves with the first log line matching `predicate` (rejects if the program exits first). */
  waitForLog(predicate: (line: string) => boolean): Promise<string>;
  /**
   * Send a signal and wait for exit; resolves with the exit code (null when killed by a signal). A
   * program still running after `timeoutMs` (default 60 s) is killed with SIGKILL and noted in logLines.
   */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
  readonly exited: Promise<number | null>;
  /** Resolves with everything printed on stdout once it contains `text` (rejects if the program exits first). */
  waitForStdout(text: string): Promise<string>;
}

/** Start `dmremap ARGS...` and wait until it logs its JSON line with "msg":"ready" (killed after readyTimeoutMs). */
export async function startProgram(
  args: readonly string[],
  options: { readyTimeoutMs?: number; cwd?: string } = {},
): Promise<RunningProgram> {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: TOOL_ENV,
    stdio: ["ignore", "pipe", "pipe"],
    ...(options.cwd ? { cwd: options.cwd } : {}),
  });
  const logLines: string[] = [];
  const waiters: { predicate: (line: string) => boolean; resolve(line: string): void }[] = [];
  let partial = "";
  let stdout = "";
  const stdoutWaiters: { text: string; resolve(all: string): void }[] = [];
  child.stdout!.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
    for (const w of [...stdoutWaiters]) {
      if (stdout.includes(w.text)) {
        stdoutWaiters.splice(stdoutWaiters.indexOf(w), 1);
        w.resolve(stdout);
      }
    }
  });
  child.stderr!.on("data", (chunk: Buffer) => {
    partial += chunk.toString();
    const lines = partial.split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) {
      logLines.push(line);
      for (const w of [...waiters]) {
        if (w.predicate(line)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
    }
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const waitForLog = (predicate: (line: string) => boolean): Promise<string> => {
    const found = logLines.find(predicate);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      waiters.push({ predicate, resolve });
      void exited.then((code) =>
        reject(
          new Error(
            `dmremap ${args.join(" ")} exited (${code}) before the awaited log line\nstderr:\n${logLines.join("\n")}\n${partial}\nstdout:\n${stdout}`,
          ),
        ),
      );
    });
  };
  const waitForStdout = (text: string): Promise<string> => {
    if (stdout.includes(text)) return Promise.resolve(stdout);
    return new Promise((resolve, reject) => {
      stdoutWaiters.push({ text, resolve });
      void exited.then((code) =>
        reject(
          new Error(
            `dmremap ${args.join(" ")} exited (${code}) before printing "${text}"\nstdout:\n${stdout}`,
          ),
        ),
      );
    });
  };
  const program: RunningProgram = {
    child,
    logLines,
    waitForLog,
    waitForStdout,
    exited,
    async stop(signal: NodeJS.Signals = "SIGTERM", timeoutMs = 60_000) {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      child.kill(signal);
      const timer = setTimeout(() => {
        logLines.push(`harness: still running ${timeoutMs} ms after ${signal}; sent SIGKILL`);
        child.kill("SIGKILL");
      }, timeoutMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
  const timeoutMs = options.readyTimeoutMs ?? 60_000;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`dmremap ${args.join(" ")} not ready within ${timeoutMs} ms\n${logLines.join("\n")}`));
    }, timeoutMs);
  });
  try {
    await Promise.race([waitForLog((line) => logMessage(line) === "ready"), timeout]);
  } finally {
    clearTimeout(timer);
  }
  return program;
}

/** The `msg` of a JSON log line (undefined for a line that is not a JSON object). */
export function logMessage(line: string): string | undefined {
  try {
    const parsed = JSON.parse(line) as { msg?: unknown };
    return typeof parsed.msg === "string" ? parsed.msg : undefined;
  } catch {
    return undefined;
  }
}

/** Where a started program listens, from its "ready" log line. */
export function readyAddresses(program: RunningProgram): { nbd: string[]; api: string } {
  const line = program.logLines.find((l) => logMessage(l) === "ready");
  if (!line) throw new Error("the program has not logged its ready line");
  const parsed = JSON.parse(line) as { nbd?: string[]; api?: string };
  return { nbd: parsed.nbd ?? [], api: parsed.api ?? "" };
}

/** Run `dmremap ARGS... --json` and parse its standard output; fails with stderr on a non-zero exit. */
export async function cliJson<T = Record<string, unknown>>(args: readonly string[]): Promise<T> {
  const result = await runCli([...args, "--json"]);
  if (result.code !== 0) {
    throw new Error(`dmremap ${args.join(" ")} --json exited ${result.code}\nstderr: ${result.stderr}`);
  }
  return JSON.parse(result.stdout) as T;
}
