// Scale of the scanner: a 16 TiB sparse main scans at the same per-block cost as a 1 GiB one, and the
// daemon's memory does not grow with the disk (sparse files on tmpfs: reading a hole costs only the
// copy, so the figure is the scanner's own cost per block).
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { createSparse } from "./setup.js";
import { ensureScanning, soloScanMBps, startScanDaemon } from "./scan-daemon.js";

const BLOCK = 4096;

/** Per-block cost and memory of one main size. */
export interface ScaleRow {
  readonly mainBytes: number;
  readonly usPerBlock: number;
  readonly scannedGiB: number;
  readonly rssStartMiB: number;
  readonly rssEndMiB: number;
}

/** Scan a sparse main of `mainBytes` for about `seconds` (whole passes when it is small). */
async function scaleRow(dir: string, mainBytes: number, seconds: number): Promise<ScaleRow> {
  const sub = join(dir, `scale-${mainBytes}`);
  await mkdir(sub, { recursive: true });
  try {
    const main = join(sub, "main.img");
    await createSparse(main, mainBytes);
    const d = await startScanDaemon(sub, main);
    try {
      const rssStartMiB = await d.rssMiB();
      let usPerBlock: number;
      let scannedGiB: number;
      if (mainBytes <= 64 * 2 ** 30) {
        const solo = await soloScanMBps(d, seconds);
        usPerBlock = BLOCK / solo.mbps;
        scannedGiB = (solo.passes * mainBytes) / 2 ** 30;
      } else {
        await ensureScanning(d);
        const a = await d.scan();
        const t0 = performance.now();
        await new Promise((r) => setTimeout(r, seconds * 1000));
        const b = await d.scan();
        const ms = performance.now() - t0;
        const blocks = b.scannedBlocks - a.scannedBlocks;
        usPerBlock = (ms * 1000) / Math.max(1, blocks);
        scannedGiB = (blocks * BLOCK) / 2 ** 30;
      }
      return { mainBytes, usPerBlock, scannedGiB, rssStartMiB, rssEndMiB: await d.rssMiB() };
    } finally {
      await d.stop();
    }
  } finally {
    await rm(sub, { recursive: true, force: true });
  }
}

/** 1 GiB and 16 TiB sparse mains, one after the other. */
export async function runScanScale(
  dir: string,
  seconds: number,
  log: (line: string) => void,
): Promise<ScaleRow[]> {
  const rows: ScaleRow[] = [];
  for (const bytes of [2 ** 30, 16 * 2 ** 40]) {
    log(
      `scan bench: scale, sparse main of ${bytes >= 2 ** 40 ? `${bytes / 2 ** 40} TiB` : `${bytes / 2 ** 30} GiB`}`,
    );
    rows.push(await scaleRow(dir, bytes, seconds));
  }
  return rows;
}

/** Report line of the scale rows. */
export function scaleLine(rows: readonly ScaleRow[]): string {
  const part = (r: ScaleRow) =>
    `${r.mainBytes >= 2 ** 40 ? `${r.mainBytes / 2 ** 40} TiB` : `${r.mainBytes / 2 ** 30} GiB`}: ` +
    `${r.usPerBlock.toFixed(2)} µs per 4 KiB block (${r.scannedGiB.toFixed(0)} GiB scanned), RSS ${r.rssStartMiB.toFixed(0)} -> ${r.rssEndMiB.toFixed(0)} MiB`;
  return `scanner scale, sparse mains on tmpfs: ${rows.map(part).join("; ")}`;
}

if (process.argv[1]?.endsWith("scan-scale.js")) {
  const dir = join(process.env.BENCH_DIR ?? "/dev/shm", `dmremap-scan-scale-${process.pid}`);
  await mkdir(dir, { recursive: true });
  try {
    const seconds = Number(process.argv.find((a) => a.startsWith("--runtime="))?.slice(10) ?? "5");
    console.log(scaleLine(await runScanScale(dir, seconds, (l) => process.stderr.write(l + "\n"))));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
