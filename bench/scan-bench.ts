// The scanner's part of `npm run bench` (--only=scan): overhead on foreground I/O and bandwidth on
// the real daemon (scan-overhead.ts), detection of clustered latent errors (scan-detect.ts).
import { DETECT_WORKLOADS, runDetectBench } from "./scan-detect.js";
import { overheadLines, runScanOverhead } from "./scan-overhead.js";

const MAIN_BYTES = 1 << 30;

/** Run both scanner benchmarks; returns report lines and stores raw results in `raw.scan`. */
export async function scanBench(
  dir: string,
  runtimeS: number,
  log: (line: string) => void,
  raw: Record<string, unknown>,
): Promise<string[]> {
  const overhead = await runScanOverhead(dir, MAIN_BYTES, runtimeS, log);
  const lines = overheadLines(overhead);
  const detection = [];
  for (const w of DETECT_WORKLOADS) {
    log(`scan bench: detection, ${w.name}`);
    const d = await runDetectBench(w);
    detection.push(d);
    const [ours, plain] = d.results;
    lines.push(
      `scanner detection, ${w.name}, 16 GiB: mean ${ours!.meanMiBToDetect.toFixed(0)} MiB read to find an error vs ` +
        `${plain!.meanMiBToDetect.toFixed(0)} MiB for a plain sequential sweep (${d.ratio.toFixed(1)}x sooner, target >= 5x)`,
    );
  }
  raw["scan"] = { overhead, detection };
  return lines;
}
