// Detection benchmark of the scan policy: clustered latent errors on a 16 GiB disk (seeded, the
// `grow` model: new bad blocks near existing ones, within +-4 MiB); mean bytes read until each error
// is found, staggered sweep + neighbourhood first against a plain sequential sweep (same bytes/s).
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Prng } from "../src/block/prng.js";
import { MediumError } from "../src/block/errors.js";
import type { RemapEvents } from "../src/remap/remap-events.js";
import { ManualClock } from "../src/health/clock.js";
import { DEFAULT_SCAN_SETTINGS, type ScanSettings } from "../src/health/health-config.js";
import { Scanner } from "../src/health/scanner.js";
import type { ScanSource } from "../src/health/scan-source.js";

const BS = 4096;
let trialCount = 0;

/** Result of one policy over all trials. */
export interface DetectResult {
  readonly policy: string;
  /** Mean MiB read until an error was found (over every error of every trial). */
  readonly meanMiBToDetect: number;
  readonly errors: number;
  readonly found: number;
}

/**
 * `clusters` clusters of `perCluster` bad blocks, seeded: like the `grow` fault, each new block lies
 * within `stepBlocks` of a random earlier member of its cluster.
 */
export function clusteredErrors(
  blocks: number,
  clusters: number,
  perCluster: number,
  stepBlocks: number,
  seed: number,
) {
  const prng = new Prng(seed);
  const bad = new Set<number>();
  for (let c = 0; c < clusters; c++) {
    const members = [prng.nextInt(blocks)];
    bad.add(members[0]!);
    while (members.length < perCluster) {
      const parent = members[prng.nextInt(members.length)]!;
      const b = Math.max(0, Math.min(blocks - 1, parent + prng.nextInt(2 * stepBlocks + 1) - stepBlocks));
      if (bad.has(b)) continue;
      bad.add(b);
      members.push(b);
    }
  }
  return [...bad].sort((a, b) => a - b);
}

/**
 * A disk for the policy benchmark: reads cost nothing, a read touching a bad block marks it pending
 * (as the read path does) and fails. The real read path is proved by the scanner and e2e tests.
 */
function fakeDisk(blocks: number, bad: readonly number[]): ScanSource {
  const badSet = new Set(bad);
  const sorted = [...bad].sort((a, b) => a - b);
  const pending = new Set<number>();
  const listeners = new Set<RemapEvents>();
  const firstIn = (first: number, end: number, set: Iterable<number>) => {
    let best = -1;
    for (const b of set) if (b >= first && b < end && (best < 0 || b < best)) best = b;
    return best;
  };
  return {
    name: "bench",
    blockSize: BS,
    blockCount: blocks,
    sizeBytes: blocks * BS,
    firstSkipped: (first, end) => firstIn(first, end, pending),
    isSkipped: (b) => pending.has(b),
    async read(offsetBytes, target) {
      const first = offsetBytes / BS;
      const end = first + target.length / BS;
      let failed = false;
      for (const b of sorted) {
        if (b < first || b >= end || !badSet.has(b)) continue;
        failed = true;
        if (!pending.has(b)) {
          pending.add(b);
          for (const l of listeners) l.onPending?.({ block: b });
        }
      }
      if (failed) throw new MediumError("bench", "read", offsetBytes, target.length);
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

async function trial(
  blocks: number,
  bad: readonly number[],
  settings: ScanSettings,
  dir: string,
): Promise<number[]> {
  const found: number[] = [];
  const scanner: Scanner = new Scanner({
    target: "bench",
    uuid: "bench",
    source: fakeDisk(blocks, bad),
    settings,
    statePath: join(dir, `trial-${trialCount++}.scan.json`),
    clock: new ManualClock(0),
    latencyNow: () => 0,
    onFinding: (f) => {
      if (f.kind === "pending") found.push(scanner.scanStatus().bytesRead);
    },
  });
  await scanner.start();
  const done = scanner.passDone();
  await scanner.startPass();
  await done;
  await scanner.stop();
  return found;
}

/** One workload: cluster step (grow's radius) in blocks. */
export interface DetectWorkload {
  readonly name: string;
  readonly stepBlocks: number;
}

/** Wide clusters (grow radius 2 MiB) and tight ones (grow's default radius, 8 blocks). */
export const DETECT_WORKLOADS: readonly DetectWorkload[] = [
  { name: "wide clusters (grow radius 2 MiB)", stepBlocks: (2 << 20) / BS },
  { name: "tight clusters (grow radius 8 blocks)", stepBlocks: 8 },
];

/** Run both policies over `trials` seeded error layouts (4 clusters of 16) on a `mib` MiB disk. */
export async function runDetectBench(workload: DetectWorkload, mib = 16 * 1024, trials = 4) {
  const blocks = (mib * 1024 * 1024) / BS;
  const dir = await mkdtemp(join(tmpdir(), "dmremap-detect-"));
  const policies: [string, ScanSettings][] = [
    ["staggered + neighbourhood (default)", { ...DEFAULT_SCAN_SETTINGS, mode: "manual" }],
    [
      "plain sequential sweep",
      { ...DEFAULT_SCAN_SETTINGS, mode: "manual", regionBytes: 0, neighbourhoodBytes: 0 },
    ],
  ];
  const results: DetectResult[] = [];
  try {
    for (const [policy, settings] of policies) {
      const all: number[] = [];
      let errors = 0;
      for (let t = 0; t < trials; t++) {
        const bad = clusteredErrors(blocks, 4, 16, workload.stepBlocks, 100 + t);
        errors += bad.length;
        all.push(...(await trial(blocks, bad, settings, dir)));
      }
      const mean = all.reduce((a, b) => a + b, 0) / Math.max(1, all.length) / (1 << 20);
      results.push({ policy, meanMiBToDetect: mean, errors, found: all.length });
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return {
    workload: workload.name,
    results,
    ratio: results[1]!.meanMiBToDetect / results[0]!.meanMiBToDetect,
  };
}

if (process.argv[1]?.endsWith("scan-detect.js")) {
  for (const w of DETECT_WORKLOADS) {
    const { results, ratio } = await runDetectBench(w);
    for (const r of results)
      console.log(
        `${w.name}: ${r.policy.padEnd(36)} mean ${r.meanMiBToDetect.toFixed(0)} MiB read to detect (${r.found}/${r.errors} found)`,
      );
    console.log(
      `${w.name}: detection ${ratio.toFixed(1)}x sooner than a plain sequential sweep (target >= 5x)`,
    );
  }
}
