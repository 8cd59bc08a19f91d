// Scanner overhead benchmark on the real daemon: foreground fio randread 4 KiB QD16 with the scanner
// paused and running (default settings: +10 % p99 budget); then the scanner alone (whole passes, no
// foreground load) against the raw sequential read bandwidth of the same image (fio psync, 1 MiB
// reads), on a tmpfs image and on an O_DIRECT file on disk.
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { runFio } from "./fio-job.js";
import { writeRandomImage } from "./setup.js";
import { ensureScanning, pauseScan, soloAgainstRaw, startScanDaemon } from "./scan-daemon.js";

/**
 * ABBA rounds of the overhead figure (4 fio runs each). Two, where one gave 0.948x and 1.027x in two
 * runs of the same build on the same machine (docs/PERFORMANCE.md).
 */
const SCAN_ABBA_ROUNDS = 2;

/** Scanner alone against raw reads of the same file. */
export interface SoloResult {
  readonly scanMBps: number;
  readonly rawMBps: number;
  readonly passes: number;
}

/** What the overhead benchmark measured. */
export interface ScanOverheadResult {
  readonly withoutIops: number;
  readonly withIops: number;
  readonly withoutP99Us: number;
  readonly withP99Us: number;
  /** Scanner rate while fio ran. */
  readonly scanUnderLoadMBps: number;
  /** tmpfs image, buffered reads. */
  readonly aloneTmpfs: SoloResult;
}

/** Run the foreground benchmark and the tmpfs scanner-alone figure in `dir` (tmpfs) on a `mainBytes` random image. */
export async function runScanOverhead(
  dir: string,
  mainBytes: number,
  runtimeS: number,
  log: (line: string) => void,
): Promise<ScanOverheadResult> {
  const main = join(dir, "scan-main.img");
  log(`scan bench: writing a ${mainBytes >> 20} MiB random image`);
  await writeRandomImage(main, mainBytes);
  const d = await startScanDaemon(dir, main);
  const job = {
    name: "randread",
    rw: "randread" as const,
    blockBytes: 4096,
    iodepth: 16,
    sizeBytes: mainBytes,
  };
  try {
    await ensureScanning(d);
    await pauseScan(d);
    // Runs in ABBA order (paused, running, running, paused), SCAN_ABBA_ROUNDS times over, each side
    // averaged: a warm-up or a drift of the machine over the runs cancels out instead of favouring
    // the side that runs second, and a slow stretch of a shared machine (about 30 s) weighs less.
    const fio = async (name: string) =>
      (await runFio(d.nbdUri, [job], runtimeS, join(dir, `fio-scan-${name}.json`), 1)).jobs[0]!;
    const off: { iops: number; p99Us: number }[] = [];
    const on: { iops: number; p99Us: number }[] = [];
    const scanRates: number[] = [];
    for (let round = 1; round <= SCAN_ABBA_ROUNDS; round++) {
      log(`scan bench: fio randread 4k QD16, scanner paused (round ${round}, run 1 of 2)`);
      off.push(await fio(`off-${round}-1`));
      await d.verb("resume");
      log(`scan bench: fio randread 4k QD16, scanner running (round ${round}, 2 runs)`);
      on.push(await fio(`on-${round}-1`), await fio(`on-${round}-2`));
      scanRates.push((await d.scan()).bytesPerSecond);
      await pauseScan(d);
      log(`scan bench: fio randread 4k QD16, scanner paused (round ${round}, run 2 of 2)`);
      off.push(await fio(`off-${round}-2`));
    }
    const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
    const without = { iops: mean(off.map((r) => r.iops)), p99Us: mean(off.map((r) => r.p99Us)) };
    const withScan = { iops: mean(on.map((r) => r.iops)), p99Us: mean(on.map((r) => r.p99Us)) };
    log("scan bench: scanner alone (whole passes) against fio psync 1 MiB reads of the tmpfs image");
    const aloneTmpfs = await soloAgainstRaw(d, main, runtimeS, join(dir, "fio-scan-tmpfs"), false);
    return {
      withoutIops: without.iops,
      withIops: withScan.iops,
      withoutP99Us: without.p99Us,
      withP99Us: withScan.p99Us,
      scanUnderLoadMBps: mean(scanRates) / 1e6,
      aloneTmpfs,
    };
  } finally {
    await d.stop();
  }
}

/** Scanner alone on an O_DIRECT file on disk (`diskDir`, e.g. /var/tmp) against fio --direct=1 reads. */
export async function runScanAloneDirect(
  diskDir: string,
  mainBytes: number,
  runtimeS: number,
  log: (line: string) => void,
): Promise<SoloResult> {
  const dir = join(diskDir, `dmremap-scan-direct-${process.pid}`);
  await mkdir(dir, { recursive: true });
  try {
    const main = join(dir, "scan-main.img");
    log(`scan bench: writing a ${mainBytes >> 20} MiB random image in ${diskDir} (O_DIRECT)`);
    await writeRandomImage(main, mainBytes);
    const d = await startScanDaemon(dir, `file+direct:${main}`);
    try {
      log("scan bench: scanner alone (whole passes) against fio psync 1 MiB O_DIRECT reads");
      return await soloAgainstRaw(d, main, runtimeS, join(dir, "fio-scan-direct"), true);
    } finally {
      await d.stop();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
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
    soloLine("tmpfs image", r.aloneTmpfs),
  ];
}

/** Report line of a scanner-alone result. */
export function soloLine(what: string, r: SoloResult): string {
  return (
    `scanner alone, ${what}: ${r.scanMBps.toFixed(0)} MB/s over ${r.passes} passes, raw sequential read of the same file ` +
    `${r.rawMBps.toFixed(0)} MB/s (${(r.scanMBps / r.rawMBps).toFixed(2)}x, target >= 0.8x)`
  );
}

if (process.argv[1]?.endsWith("scan-overhead.js")) {
  const dir = join(process.env.BENCH_DIR ?? "/dev/shm", `dmremap-scan-bench-${process.pid}`);
  await mkdir(dir, { recursive: true });
  try {
    const runtime = Number(process.argv.find((a) => a.startsWith("--runtime="))?.slice(10) ?? "10");
    const log = (l: string) => process.stderr.write(l + "\n");
    if (!process.argv.includes("--direct-only")) {
      const r = await runScanOverhead(dir, 1 << 30, runtime, log);
      for (const line of overheadLines(r)) console.log(line);
    }
    const direct = await runScanAloneDirect(process.env.DISK_DIR ?? "/var/tmp", 1 << 30, runtime, log);
    console.log(soloLine("O_DIRECT file on disk", direct));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
