// Runs fio's nbd engine against one NBD URI and extracts MB/s, IOPS and p50/p99 completion latency
// from its JSON report (one entry per job; jobs of one call run concurrently).
import { spawn } from "node:child_process";
import { readFile, rm } from "node:fs/promises";

/** One fio job of a run. */
export interface FioJobSpec {
  readonly name: string;
  readonly rw: "read" | "write" | "randread" | "randwrite";
  readonly blockBytes: number;
  readonly iodepth: number;
  readonly offsetBytes?: number;
  readonly sizeBytes: number;
  /** Parallel copies of the job, each on its own NBD connection (reported as one group). */
  readonly numjobs?: number;
}

/** What fio measured for one job. */
export interface FioJobResult {
  readonly name: string;
  readonly mbPerS: number;
  readonly iops: number;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly ios: number;
}

/** Per-job results of one fio run plus fio's JSON output. */
export interface FioRun {
  readonly jobs: FioJobResult[];
  readonly raw: unknown;
}

interface FioSide {
  io_bytes: number;
  bw_bytes: number;
  iops: number;
  total_ios: number;
  clat_ns: { percentile?: Record<string, number> };
}

/**
 * Run `jobs` concurrently against `uri` for `runtimeS` seconds after `rampS` seconds of warm-up that
 * are not measured; fio's JSON goes to `outputPath`.
 */
export async function runFio(
  uri: string,
  jobs: readonly FioJobSpec[],
  runtimeS: number,
  outputPath: string,
  rampS = 0,
): Promise<FioRun> {
  const args = [
    "--ioengine=nbd",
    `--uri=${uri}`,
    "--time_based",
    `--runtime=${runtimeS}`,
    `--ramp_time=${rampS}`,
    "--numjobs=1",
    "--norandommap",
    ...(jobs.some((j) => (j.numjobs ?? 1) > 1) ? ["--group_reporting"] : []),
    "--output-format=json",
    `--output=${outputPath}`,
  ];
  for (const job of jobs) {
    args.push(
      `--name=${job.name}`,
      `--rw=${job.rw}`,
      `--bs=${job.blockBytes}`,
      `--iodepth=${job.iodepth}`,
      `--offset=${job.offsetBytes ?? 0}`,
      `--size=${job.sizeBytes}`,
      `--numjobs=${job.numjobs ?? 1}`,
    );
  }
  await rm(outputPath, { force: true });
  const stderr = await new Promise<string>((resolve, reject) => {
    const child = spawn("fio", args, { stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0 ? resolve(err) : reject(new Error(`fio exited ${code}: ${err.trim()}`)),
    );
  });
  let raw: { jobs: ({ jobname: string; read: FioSide; write: FioSide } & Record<string, unknown>)[] };
  try {
    raw = JSON.parse(await readFile(outputPath, "utf8")) as typeof raw;
  } catch (err) {
    throw new Error(`fio wrote no JSON report (${stderr.trim()})`, { cause: err });
  }
  const results = raw.jobs.map((j) => {
    const side = j.read.io_bytes > 0 ? j.read : j.write;
    const pct = side.clat_ns.percentile ?? {};
    return {
      name: j.jobname,
      mbPerS: side.bw_bytes / 1e6,
      iops: side.iops,
      p50Us: (pct["50.000000"] ?? 0) / 1000,
      p99Us: (pct["99.000000"] ?? 0) / 1000,
      ios: side.total_ios,
    };
  });
  return { jobs: results, raw };
}
