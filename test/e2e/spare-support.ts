// Shared pieces of the online spare tests (add, drain, remove): a target "live" over a 16 MiB main
// and two 2 MiB spares served by the daemon, API calls that must succeed, a rate-limited fio randrw
// verify workload that overlaps an operation, and a digest of the whole export.
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { RunResult } from "./harness.js";
import { api, fio, nbdsh, nbdUnixUri, sparseFile } from "./tools.js";

/** One row of `dmremap spare list --json`. */
export interface SpareRow {
  index: number;
  totalBlocks: number;
  usedBlocks: number;
  device: string;
  metadata: string;
}

/** Files and addresses of the target "live" (see liveSet). */
export interface LiveSet {
  main: string;
  s0: string;
  s1: string;
  apiSocket: string;
  socket: string;
  config: string;
  /** API address (`unix:` + apiSocket). */
  base: string;
  /** NBD URI of the export "live". */
  uri: string;
  /** CLI options that reach the running daemon. */
  online: string[];
  /** Write the daemon config with these spares of the target. */
  write(spares: string[]): Promise<void>;
}

/** Create main (16 MiB) and spares s0, s1 (2 MiB each) in `dir`; the config is not written yet. */
export async function liveSet(dir: string): Promise<LiveSet> {
  const main = await sparseFile(join(dir, "main.img"), 16 << 20);
  const s0 = await sparseFile(join(dir, "s0.img"), 2 << 20);
  const s1 = await sparseFile(join(dir, "s1.img"), 2 << 20);
  const apiSocket = join(dir, "api.sock");
  const socket = join(dir, "nbd.sock");
  const config = join(dir, "dmremap.toml");
  const write = (spares: string[]) =>
    writeFile(
      config,
      `[api]\nlisten = "unix:${apiSocket}"\n[nbd]\nlisten = ["unix:${socket}"]\n[[target]]\nname = "live"\nmain = "${main}"\nspares = [${spares.map((s) => `"${s}"`).join(", ")}]\ncreate = true\n`,
    );
  const base = `unix:${apiSocket}`;
  const uri = nbdUnixUri(socket, "live");
  return { main, s0, s1, apiSocket, socket, config, base, uri, online: ["--api", base], write };
}

/** fio options of the randrw verify workload named `name`. */
export function fioJob(name: string): string[] {
  return [
    `--name=${name}`,
    "--rw=randrw",
    "--bs=4k",
    "--size=12m",
    "--verify=crc32c",
    "--randseed=7",
    "--iodepth=4",
    // About 3 s per run (the limit holds for reads and writes each), long enough to overlap an operation.
    "--rate_iops=500",
  ];
}

/** SHA-256 of the whole export, read through NBD. */
export async function digest(uri: string): Promise<string> {
  const script =
    "import hashlib, sys\nd = hashlib.sha256()\nsize = h.get_size()\nfor at in range(0, size, 1 << 20):\n    d.update(h.pread(min(1 << 20, size - at), at))\nsys.stdout.write(d.hexdigest())";
  const result = await nbdsh(uri, script);
  assert.equal(result.code, 0, result.stderr);
  return result.stdout.trim();
}

/** Wait until the target has seen `n` client writes (a condition, polled). */
export async function untilWrites(base: string, n: number): Promise<void> {
  for (;;) {
    const status = (await call(base, "GET", "/v1/targets/live")) as { io: { writes: number } };
    if (status.io.writes >= n) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** An API call that must succeed (2xx); returns the JSON answer. */
export async function call(base: string, method: string, path: string, body?: unknown): Promise<unknown> {
  const answer = await api(base, method, path, body === undefined ? {} : { body });
  assert.ok(
    answer.status >= 200 && answer.status < 300,
    `${method} ${path}: ${answer.status} ${answer.text}`,
  );
  return answer.json;
}

/**
 * Run `operation` while fio runs the verify workload `job` on the export. fio is rate-limited so it
 * runs for seconds; the operation starts once `writes` of its writes arrive and must end while fio
 * still runs (checked here), so the two overlap for sure. The fio run is checked by fioClean.
 */
export async function whileFioRuns<T>(
  set: LiveSet,
  job: string,
  writes: number,
  operation: () => Promise<T>,
): Promise<{ result: T; workload: Promise<RunResult> }> {
  let fioRunning = true;
  const workload = fio(set.uri, [...fioJob(job), "--do_verify=1"]).finally(() => (fioRunning = false));
  await untilWrites(set.base, writes);
  const result = await operation();
  assert.ok(fioRunning, "the operation ended while fio was still running");
  return { result, workload };
}

/** The fio run ends with no I/O error and no verify error. */
export async function fioClean(workload: Promise<RunResult>): Promise<void> {
  const run = await workload;
  assert.match(run.stdout, /err= 0/, run.stdout);
  assert.doesNotMatch(run.stdout, /verify: bad/, run.stdout);
}
