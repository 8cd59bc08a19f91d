// The scanner's part of `npm run bench` (--only=scan): overhead on foreground I/O and the scanner
// alone against raw reads, on tmpfs and on an O_DIRECT file on disk (scan-overhead.ts); detection on
// a degrading disk (scan-detect.ts); per-block cost and memory of a 16 TiB main (scan-scale.ts).
import { DETECT_WORKLOADS, runDetectBench } from "./scan-detect.js";
import { overheadLines, runScanAloneDirect, runScanOverhead, soloLine } from "./scan-overhead.js";
import { runScanScale, scaleLine } from "./scan-scale.js";

const MAIN_BYTES = 1 << 30;

/** Run the scanner benchmarks; returns report lines and stores raw results in `raw.scan`. */
export async function scanBench(
  dir: string,
  runtimeS: number,
  log: (line: string) => void,
  raw: Record<string, unknown>,
): Promise<string[]> {
  const overhead = await runScanOverhead(dir, MAIN_BYTES, runtimeS, log);
  const lines = overheadLines(overhead);
  const diskDir = process.env.BENCH_DISK_DIR ?? "/var/tmp";
  const aloneDirect = await runScanAloneDirect(diskDir, MAIN_BYTES, runtimeS, log);
  lines.push(soloLine(`O_DIRECT file on disk (${diskDir})`, aloneDirect));
  const detection = [];
  for (const w of DETECT_WORKLOADS) {
    log(`scan bench: detection, ${w.name}`);
    const d = await runDetectBench(w);
    detection.push(d);
    const [ours, plain] = d.results;
    lines.push(
      `scanner detection, ${w.name}, 16 GiB degrading disk: mean ${ours!.meanMiBToDetect.toFixed(0)} MiB read from an error ` +
        `appearing to its detection vs ${plain!.meanMiBToDetect.toFixed(0)} MiB for a plain sequential sweep ` +
        `(${d.ratio.toFixed(1)}x sooner, target >= 5x)`,
    );
  }
  const scale = await runScanScale(dir, Math.max(3, Math.round(runtimeS / 2)), log);
  lines.push(scaleLine(scale));
  raw["scan"] = { overhead, aloneDirect, detection, scale };
  return lines;
}
