// Helpers of the scanner benchmarks: a real `dmremap serve` with one target and the scanner in
// continuous mode, its scan API, the scanner-alone rate over whole passes, raw sequential reads of
// the same file with fio (buffered or O_DIRECT), and the daemon's resident memory.
import { spawn, type ChildProcess } from "node:child_process";
import { request } from "node:http";
import { readFile, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { CLI } from "./servers.js";

/** The scan status fields the benchmarks read. */
export interface BenchScan {
  state: string;
  pass: number;
  scannedBlocks: number;
  totalBlocks: number;
  bytesPerSecond: number;
  history: { pass: number; startedAt: number; endedAt: number; bytesRead: number; result: string }[];
}

/** A daemon serving target "bench". */
export interface ScanDaemon {
  readonly child: ChildProcess;
  readonly apiSocket: string;
  readonly nbdUri: string;
  scan(): Promise<BenchScan>;
  verb(verb: "start" | "pause" | "resume" | "stop"): Promise<BenchScan>;
  /** Resident set size of the daemon, MiB. */
  rssMiB(): Promise<number>;
  stop(): Promise<void>;
}

function api<T>(socket: string, method: string, path: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, method, path }, (res) => {
      let body = "";
      res.on("data", (d: Buffer) => (body += d.toString()));
      res.on("end", () =>
        (res.statusCode ?? 500) < 300
          ? resolve(JSON.parse(body) as T)
          : reject(new Error(`${path}: ${body}`)),
      );
    });
    req.on("error", reject);
    req.end();
  });
}

/** Start `dmremap serve` in `dir` on `mainSpec` (file or file+direct:) with a fresh 64 MiB spare. */
export async function startScanDaemon(dir: string, mainSpec: string, scanToml = ""): Promise<ScanDaemon> {
  const spare = join(dir, "scan-spare.img");
  await writeFile(spare, "");
  await truncate(spare, 64 << 20);
  const apiSocket = join(dir, "scan-api.sock");
  const nbdSocket = join(dir, "scan-nbd.sock");
  const config = join(dir, "scan.toml");
  await writeFile(
    config,
    `[daemon]\ndata_dir = "${dir}"\nlog_level = "warn"\n[api]\nlisten = "unix:${apiSocket}"\n[nbd]\nlisten = ["unix:${nbdSocket}"]\n` +
      `[[target]]\nname = "bench"\nmain = "${mainSpec}"\nspares = ["${spare}"]\ncreate = true\n[target.scan]\nmode = "continuous"\n${scanToml}`,
  );
  const child = spawn(process.execPath, [CLI, "serve", "--config", config], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  await new Promise<void>((resolve, reject) => {
    child.stderr!.on("data", (d: Buffer) => {
      stderr += d.toString();
      if (stderr.includes('"msg":"ready"')) resolve();
    });
    child.once("exit", (code) => reject(new Error(`dmremap serve exited ${code}: ${stderr}`)));
  });
  const path = "/v1/targets/bench/scan";
  // A failed call says whether the daemon is still alive, and what it last logged.
  const call = <T>(method: string, url: string) =>
    api<T>(apiSocket, method, url).catch((err: unknown) => {
      const state = child.exitCode ?? child.signalCode ?? "running";
      throw new Error(`${method} ${url}: ${String(err)} (daemon ${state}; log: ${stderr.slice(-600)})`);
    });
  return {
    child,
    apiSocket,
    nbdUri: `nbd+unix:///bench?socket=${nbdSocket}`,
    scan: () => call<BenchScan>("GET", path),
    verb: (verb) => call<BenchScan>("POST", `${path}/${verb}`),
    async rssMiB() {
      const status = await readFile(`/proc/${child.pid}/status`, "utf8");
      return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
    },
  };
}

/** Wait (polling the API; a benchmark, not a test) until `done` holds for the scan status. */
export async function pollScan(
  d: ScanDaemon,
  done: (s: BenchScan) => boolean,
  limitS = 600,
): Promise<BenchScan> {
  const until = Date.now() + limitS * 1000;
  for (;;) {
    const s = await d.scan();
    if (done(s)) return s;
    if (Date.now() > until)
      throw new Error(`scan did not get there in ${limitS} s (state ${s.state}, pass ${s.pass})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Make sure a pass is running (continuous mode starts one on its own schedule; else start it). */
export async function ensureScanning(d: ScanDaemon): Promise<void> {
  const s = await d.scan();
  if (s.state === "paused") await d.verb("resume");
  else if (s.state === "idle") await d.verb("start").catch(() => undefined);
  await pollScan(d, (x) => x.state === "scanning" || x.history.length > s.history.length, 30);
}

/**
 * Scanner alone: whole passes (continuous mode, no foreground load) that start after this call,
 * until at least `seconds` of passes and two passes are done; bytes over time of those passes, MB/s.
 */
export async function soloScanMBps(
  d: ScanDaemon,
  seconds: number,
): Promise<{ mbps: number; passes: number }> {
  const after = (await d.scan()).pass;
  await ensureScanning(d);
  // The record keeps the last 16 passes only: short passes are collected as they appear.
  const seen = new Map<number, BenchScan["history"][number]>();
  await pollScan(d, (x) => {
    for (const h of x.history) if (h.pass > after && h.result === "complete") seen.set(h.pass, h);
    const ms = [...seen.values()].reduce((t, h) => t + h.endedAt - h.startedAt, 0);
    return seen.size >= 2 && ms >= seconds * 1000;
  });
  const passes = [...seen.values()];
  const bytes = passes.reduce((t, h) => t + h.bytesRead, 0);
  const ms = passes.reduce((t, h) => t + h.endedAt - h.startedAt, 0);
  return { mbps: bytes / 1e3 / Math.max(1, ms), passes: passes.length };
}

/** Raw sequential read bandwidth of `file` (fio psync, 1 MiB reads, O_DIRECT when `direct`), MB/s. */
export async function rawSequentialMBps(
  file: string,
  runtimeS: number,
  out: string,
  direct = false,
): Promise<number> {
  const args = [
    "--name=raw",
    `--filename=${file}`,
    "--ioengine=psync",
    "--rw=read",
    "--bs=1M",
    `--direct=${direct ? 1 : 0}`,
    "--time_based",
    `--runtime=${runtimeS}`,
    "--output-format=json",
  ];
  const text = await new Promise<string>((resolve, reject) => {
    const child = spawn("fio", args, { stdio: ["ignore", "pipe", "inherit"] });
    let o = "";
    child.stdout.on("data", (d: Buffer) => (o += d.toString()));
    child.on("close", (code) => (code === 0 ? resolve(o) : reject(new Error(`fio exited ${code}`))));
  });
  await writeFile(out, text);
  const json = JSON.parse(text) as { jobs: { read: { bw_bytes: number } }[] };
  return json.jobs[0]!.read.bw_bytes / 1e6;
}

/** Pause the scanner (continuous mode: between passes it is idle for a moment, and cannot be paused). */
export async function pauseScan(d: ScanDaemon): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const s = await d.scan();
    if (s.state === "paused") return;
    if (s.state === "idle") await d.verb("start").catch(() => undefined);
    await d.verb("pause").catch(() => undefined);
  }
  throw new Error("the scanner could not be paused");
}

/**
 * Scanner alone against raw reads of the same file in one run: raw, scan, raw (the scanner paused
 * while fio reads); the raw figure is the mean of the two.
 */
export async function soloAgainstRaw(
  d: ScanDaemon,
  file: string,
  runtimeS: number,
  outPrefix: string,
  direct: boolean,
): Promise<{ scanMBps: number; rawMBps: number; passes: number }> {
  await pauseScan(d);
  const before = await rawSequentialMBps(file, runtimeS, `${outPrefix}-raw-1.json`, direct);
  const solo = await soloScanMBps(d, runtimeS);
  await pauseScan(d);
  const after = await rawSequentialMBps(file, runtimeS, `${outPrefix}-raw-2.json`, direct);
  return { scanMBps: solo.mbps, rawMBps: (before + after) / 2, passes: solo.passes };
}
