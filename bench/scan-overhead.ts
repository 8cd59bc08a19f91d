// Scanner overhead benchmark on the real daemon: foreground fio randread 4 KiB QD16 with the scanner
// paused and running (default settings: +10 % p99 budget), the scanner alone against the raw
// sequential read bandwidth of the same image (fio psync, 1 MiB reads).
import { spawn } from "node:child_process";
import { request } from "node:http";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { runFio } from "./fio-job.js";
import { CLI } from "./servers.js";
import { writeRandomImage } from "./setup.js";

/** What the overhead benchmark measured. */
export interface ScanOverheadResult {
  readonly withoutIops: number;
  readonly withIops: number;
  readonly withoutP99Us: number;
  readonly withP99Us: number;
  /** Scanner rate while fio ran. */
  readonly scanUnderLoadMBps: number;
  /** A whole pass with no foreground load. */
  readonly scanAloneMBps: number;
  readonly rawSeqMBps: number;
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

interface Scan {
  state: string;
  pass: number;
  bytesPerSecond: number;
  history: { pass: number; startedAt: number; endedAt: number; bytesRead: number; result: string }[];
}

/** Raw sequential read bandwidth of a file (fio psync, 1 MiB reads). */
async function rawSequential(file: string, runtimeS: number, out: string): Promise<number> {
  const args = [
    "--name=raw",
    `--filename=${file}`,
    "--ioengine=psync",
    "--rw=read",
    "--bs=1M",
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

/** Run the benchmark in `dir` (tmpfs) on a `mainBytes` random image. */
export async function runScanOverhead(
  dir: string,
  mainBytes: number,
  runtimeS: number,
  log: (line: string) => void,
): Promise<ScanOverheadResult> {
  const main = join(dir, "scan-main.img");
  const spare = join(dir, "scan-spare.img");
  log(`scan bench: writing a ${mainBytes >> 20} MiB random image`);
  await writeRandomImage(main, mainBytes);
  await writeFile(spare, "");
  const { truncate } = await import("node:fs/promises");
  await truncate(spare, 64 << 20);
  const apiSocket = join(dir, "scan-api.sock");
  const nbdSocket = join(dir, "scan-nbd.sock");
  const config = join(dir, "scan.toml");
  await writeFile(
    config,
    `[daemon]\ndata_dir = "${dir}"\nlog_level = "warn"\n[api]\nlisten = "unix:${apiSocket}"\n[nbd]\nlisten = ["unix:${nbdSocket}"]\n` +
      `[[target]]\nname = "bench"\nmain = "${main}"\nspares = ["${spare}"]\ncreate = true\n[target.scan]\nmode = "continuous"\n`,
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
  const uri = `nbd+unix:///bench?socket=${nbdSocket}`;
  const job = {
    name: "randread",
    rw: "randread" as const,
    blockBytes: 4096,
    iodepth: 16,
    sizeBytes: mainBytes,
  };
  try {
    // Continuous mode starts its first pass on the scanner's own schedule: wait until it runs (or
    // start it) before pausing, since pausing an idle scanner is refused.
    for (let i = 0; ; i++) {
      const s = await api<Scan>(apiSocket, "GET", "/v1/targets/bench/scan");
      if (s.state === "scanning") break;
      if (i === 25) await api(apiSocket, "POST", "/v1/targets/bench/scan/start");
      if (i > 100) throw new Error(`scanner never started (state ${s.state})`);
      await new Promise((r) => setTimeout(r, 200));
    }
    await api(apiSocket, "POST", "/v1/targets/bench/scan/pause");
    log("scan bench: fio randread 4k QD16, scanner paused");
    const without = (await runFio(uri, [job], runtimeS, join(dir, "fio-scan-off.json"), 1)).jobs[0]!;
    await api(apiSocket, "POST", "/v1/targets/bench/scan/resume");
    log("scan bench: fio randread 4k QD16, scanner running");
    const withScan = (await runFio(uri, [job], runtimeS, join(dir, "fio-scan-on.json"), 1)).jobs[0]!;
    const underLoad = await api<Scan>(apiSocket, "GET", "/v1/targets/bench/scan");
    // Alone: the next complete pass that starts after the foreground load ended (continuous mode).
    const after = Date.now();
    log("scan bench: scanner alone (one whole pass)");
    let alone: Scan["history"][number] | undefined;
    while (!alone) {
      await new Promise((r) => setTimeout(r, 200));
      const s = await api<Scan>(apiSocket, "GET", "/v1/targets/bench/scan");
      alone = s.history.find((h) => h.startedAt >= after && h.result === "complete");
    }
    child.kill("SIGTERM");
    await new Promise((r) => child.once("exit", r));
    log("scan bench: raw sequential read of the image (fio psync, 1 MiB), daemon stopped");
    const raw = await rawSequential(main, runtimeS, join(dir, "fio-raw.json"));
    return {
      withoutIops: without.iops,
      withIops: withScan.iops,
      withoutP99Us: without.p99Us,
      withP99Us: withScan.p99Us,
      scanUnderLoadMBps: underLoad.bytesPerSecond / 1e6,
      scanAloneMBps: alone.bytesRead / 1e6 / ((alone.endedAt - alone.startedAt) / 1000),
      rawSeqMBps: raw,
    };
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
    }
  }
}

/** Report lines of the overhead result. */
export function overheadLines(r: ScanOverheadResult): string[] {
  const ratio = r.withIops / r.withoutIops;
  const p99 = (100 * (r.withP99Us - r.withoutP99Us)) / r.withoutP99Us;
  return [
    `scanner overhead, fio randread 4k QD16: ${r.withoutIops.toFixed(0)} IOPS without, ${r.withIops.toFixed(0)} with the scanner ` +
      `(${ratio.toFixed(3)}x, target >= 0.98x); p99 ${r.withoutP99Us.toFixed(0)} -> ${r.withP99Us.toFixed(0)} µs ` +
      `(${p99 >= 0 ? "+" : ""}${p99.toFixed(1)} %, target <= +10 %); scanner meanwhile ${r.scanUnderLoadMBps.toFixed(0)} MB/s`,
    `scanner alone: ${r.scanAloneMBps.toFixed(0)} MB/s, raw sequential read of the same tmpfs image ${r.rawSeqMBps.toFixed(0)} MB/s ` +
      `(${(r.scanAloneMBps / r.rawSeqMBps).toFixed(2)}x, target >= 0.8x)`,
  ];
}

if (process.argv[1]?.endsWith("scan-overhead.js")) {
  const { mkdir, rm } = await import("node:fs/promises");
  const dir = join(process.env.BENCH_DIR ?? "/dev/shm", `dmremap-scan-bench-${process.pid}`);
  await mkdir(dir, { recursive: true });
  try {
    const runtime = Number(process.argv.find((a) => a.startsWith("--runtime="))?.slice(10) ?? "10");
    const r = await runScanOverhead(dir, 1 << 30, runtime, (l) => process.stderr.write(l + "\n"));
    for (const line of overheadLines(r)) console.log(line);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
