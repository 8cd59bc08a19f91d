// Helpers for the real client tools the end-to-end tests drive: nbdkit, nbdfuse, nbdsh, fio, the
// control API over HTTP, a Prometheus text parser and seeded data.
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, rmSync, watch } from "node:fs";
import { readFile, truncate, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { basename, dirname, join } from "node:path";
import { mustRun, run, TOOL_ENV, type RunResult } from "./harness.js";

/** Fail (never skip) when one of the tools is not installed; the message says which and where from. */
export async function requireTools(...names: string[]): Promise<void> {
  for (const name of names) {
    const found = await run("sh", ["-c", `command -v "${name}"`], { timeoutMs: 5_000 });
    if (found.code !== 0) {
      throw new Error(
        `required tool "${name}" is not installed (Debian: nbdkit, libnbd-bin, python3-libnbd, fio, e2fsprogs, fuse3)`,
      );
    }
  }
  if (names.includes("nbdfuse") && !existsSync("/dev/fuse")) {
    throw new Error("nbdfuse needs /dev/fuse, which does not exist on this machine");
  }
}

/** Resolves once `path` exists; rejects after `timeoutMs` or when `gaveUp` resolves first. */
export function waitForFile(path: string, timeoutMs: number, gaveUp?: Promise<unknown>): Promise<void> {
  return new Promise((resolve, reject) => {
    const watcher = watch(dirname(path), () => check());
    const timer = setTimeout(
      () => finish(new Error(`${path} did not appear within ${timeoutMs} ms`)),
      timeoutMs,
    );
    let done = false;
    function finish(err?: Error) {
      if (done) return;
      done = true;
      clearTimeout(timer);
      watcher.close();
      if (err) reject(err);
      else resolve();
    }
    function check() {
      if (existsSync(path)) finish();
    }
    void gaveUp?.then(() => finish(new Error(`gave up waiting for ${basename(path)}: the process exited`)));
    check();
  });
}

/** A helper process (nbdkit, nbdfuse) started in the foreground. */
export interface HelperProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  /** Everything it wrote to stderr so far. */
  stderr(): string;
  /** Signal it (if still running) and wait for it to exit; SIGKILL after 30 s. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Spawn `file args` and wait until it writes `readyFile` (its pidfile). */
export async function startHelper(
  file: string,
  args: readonly string[],
  readyFile: string,
  timeoutMs = 30_000,
): Promise<HelperProcess> {
  rmSync(readyFile, { force: true });
  const child = spawn(file, args, { env: TOOL_ENV, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (c: Buffer) => {
    if (stderr.length < 1 << 16) stderr += c.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const helper: HelperProcess = {
    child,
    exited,
    stderr: () => stderr,
    async stop(signal: NodeJS.Signals = "SIGTERM") {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      child.kill(signal);
      const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
  try {
    await waitForFile(readyFile, timeoutMs, exited);
  } catch (err) {
    await helper.stop("SIGKILL");
    throw new Error(`${file} ${args.join(" ")}: ${(err as Error).message}\nstderr: ${stderr}`);
  }
  return helper;
}

/** Start nbdkit in the foreground on Unix socket `socket`; `args` are plugin, filters and parameters. */
export function startNbdkit(socket: string, args: readonly string[]): Promise<HelperProcess> {
  const pidFile = `${socket}.pid`;
  return startHelper("nbdkit", ["-f", "-U", socket, "-P", pidFile, ...args], pidFile);
}

/** A mounted nbdfuse: `file` is the export as a regular file. */
export interface FuseMount {
  readonly file: string;
  unmount(): Promise<void>;
}

/** Mount the export `uri` with nbdfuse at `dir` (which must exist); unmount() waits for nbdfuse to exit. */
export async function mountNbdfuse(dir: string, uri: string): Promise<FuseMount> {
  const pidFile = `${dir}.pid`;
  const helper = await startHelper("nbdfuse", ["-P", pidFile, dir, uri], pidFile);
  return {
    file: join(dir, "nbd"),
    async unmount() {
      const result = await run("fusermount3", ["-u", dir], { timeoutMs: 30_000 });
      if (result.code !== 0) {
        await helper.stop("SIGKILL");
        throw new Error(`fusermount3 -u ${dir} exited ${result.code}: ${result.stderr}`);
      }
      const code = await helper.exited;
      if (code !== 0) throw new Error(`nbdfuse exited ${code}: ${helper.stderr()}`);
    },
  };
}

/** The NBD URI of export `name` on Unix socket `socket`. */
export function nbdUnixUri(socket: string, name: string): string {
  return `nbd+unix:///${encodeURIComponent(name)}?socket=${socket}`;
}

/** Run a Python script under nbdsh connected to `uri` (`h` is the handle, `nbd` the module). */
export function nbdsh(uri: string, script: string, timeoutMs = 60_000): Promise<RunResult> {
  return run("nbdsh", ["-u", uri, "-c", script], { timeoutMs });
}

/** fio options of every run: plain output, and no verify-state files left in the working directory. */
export const FIO_COMMON = ["--output-format=normal", "--verify_state_save=0"];

/** Run fio against an NBD export; fails with fio's output when it exits non-zero. */
export function fio(uri: string, args: readonly string[], timeoutMs = 120_000): Promise<RunResult> {
  return mustRun("fio", ["--ioengine=nbd", `--uri=${uri}`, ...FIO_COMMON, ...args], { timeoutMs });
}

/** Create (or reset) a sparse file of `sizeBytes`; returns its path. */
export async function sparseFile(path: string, sizeBytes: number): Promise<string> {
  await writeFile(path, "");
  await truncate(path, sizeBytes);
  return path;
}

/** `length` bytes from a seeded mulberry32 stream: same seed, same bytes. */
export function seededBytes(seed: number, length: number): Buffer {
  const out = Buffer.alloc(length);
  let a = seed >>> 0;
  for (let i = 0; i < length; i += 4) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const word = (t ^ (t >>> 14)) >>> 0;
    for (let j = 0; j < 4 && i + j < length; j++) out[i + j] = (word >>> (8 * j)) & 0xff;
  }
  return out;
}

/** Hex SHA-256 of a buffer. */
export function sha256(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** An HTTP answer of the control API. */
export interface ApiAnswer {
  readonly status: number;
  readonly contentType: string;
  readonly text: string;
  /** The parsed body (undefined when it is not JSON). */
  readonly json: unknown;
}

/** Call the control API at `base` (the "api" address of the ready line, e.g. tcp:127.0.0.1:PORT). */
export function api(
  base: string,
  method: string,
  path: string,
  options: { body?: unknown; token?: string; timeoutMs?: number } = {},
): Promise<ApiAnswer> {
  const m = /^tcp:(.+):(\d+)$/.exec(base);
  const where = m
    ? { host: m[1]!.replace(/^\[|\]$/g, ""), port: Number(m[2]) }
    : { socketPath: base.slice(5) };
  const body = options.body === undefined ? undefined : JSON.stringify(options.body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        ...where,
        method,
        path,
        timeout: options.timeoutMs ?? 30_000,
        headers: {
          ...(body !== undefined ? { "content-type": "application/json" } : {}),
          ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
        },
      },
      (res) => {
        let text = "";
        res.on("data", (c: Buffer) => (text += c.toString()));
        res.on("end", () => {
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({
            status: res.statusCode ?? 0,
            contentType: String(res.headers["content-type"]),
            text,
            json,
          });
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error(`${method} ${path}: no answer within the timeout`)));
    req.on("error", reject);
    req.end(body);
  });
}

/** One sample of Prometheus text: `name{labels} value`. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** Parse Prometheus text exposition format strictly; throws on a line that is not a sample. */
export function parsePrometheus(text: string): Sample[] {
  const samples: Sample[] = [];
  const line =
    /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (-?(?:[0-9.]+(?:e[+-]?\d+)?|NaN|\+Inf|-Inf))( -?\d+)?$/;
  const label = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/gy;
  for (const [i, raw] of text.split("\n").entries()) {
    if (raw === "" || raw.startsWith("#")) continue;
    const m = line.exec(raw);
    if (!m) throw new Error(`metrics line ${i + 1} is not "name{labels} value": ${raw}`);
    const labels: Record<string, string> = {};
    const inner = m[3] ?? "";
    label.lastIndex = 0;
    while (label.lastIndex < inner.length) {
      const l = label.exec(inner);
      if (!l) throw new Error(`metrics line ${i + 1} has malformed labels: ${raw}`);
      labels[l[1]!] = l[2]!;
    }
    samples.push({ name: m[1]!, labels, value: Number(m[4]) });
  }
  return samples;
}

/** The value of the sample `name` whose labels include `labels` (undefined when absent). */
export function sampleValue(
  samples: readonly Sample[],
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    ?.value;
}

/** A running program whose standard output is read line by line. */
export interface LineProgram {
  readonly lines: string[];
  /** Resolves once at least `count` lines were printed (rejects if the program exits first). */
  waitForLines(count: number): Promise<void>;
  readonly exited: Promise<{ code: number | null; stderr: string }>;
  kill(): void;
}

/** Start `file args` and collect its standard output lines as they come; killed after `timeoutMs`. */
export function startLines(file: string, args: readonly string[], timeoutMs = 120_000): LineProgram {
  const child = spawn(file, args, { env: TOOL_ENV, stdio: ["ignore", "pipe", "pipe"] });
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const lines: string[] = [];
  const waiters: { count: number; resolve(): void }[] = [];
  let partial = "";
  let stderr = "";
  child.stdout!.on("data", (chunk: Buffer) => {
    partial += chunk.toString();
    const parts = partial.split("\n");
    partial = parts.pop() ?? "";
    lines.push(...parts);
    for (const w of [...waiters]) {
      if (lines.length >= w.count) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  });
  child.stderr!.on("data", (c: Buffer) => {
    if (stderr.length < 1 << 16) stderr += c.toString();
  });
  const exited = new Promise<{ code: number | null; stderr: string }>((resolve) =>
    child.on("close", (code) => {
      clearTimeout(timer);
      if (partial) lines.push(partial);
      resolve({ code, stderr });
    }),
  );
  return {
    lines,
    exited,
    kill: () => child.kill("SIGKILL"),
    waitForLines(count) {
      if (lines.length >= count) return Promise.resolve();
      return new Promise((resolve, reject) => {
        waiters.push({ count, resolve });
        void exited.then(({ code }) =>
          reject(new Error(`${file} exited (${code}) after ${lines.length} of ${count} lines\n${stderr}`)),
        );
      });
    },
  };
}

/**
 * A self-signed X.509 certificate for CN=localhost in `dir` (server-key.pem, server-cert.pem, and
 * the same certificate as ca-cert.pem, the layout nbdkit's and libnbd's tls-certificates expect).
 */
export async function selfSignedCertificate(dir: string): Promise<{ key: string; cert: string }> {
  const key = join(dir, "server-key.pem");
  const cert = join(dir, "server-cert.pem");
  await mustRun("openssl", [
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    key,
    "-out",
    cert,
    "-days",
    "2",
    "-subj",
    "/CN=localhost",
  ]);
  await writeFile(join(dir, "ca-cert.pem"), await readFile(cert));
  return { key, cert };
}
