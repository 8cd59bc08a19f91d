// Open time of a set with 1,000,000 remaps: a checkpoint with that many entries is written through
// the metadata API on sparse tmpfs files, then openSet + building the RemappedDevice is timed.
// Run: node dist/bench/open-bench.js [DIR]   (prints one JSON line)
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { FileDevice } from "../src/block/file-device.js";
import { createSet } from "../src/metadata/create-set.js";
import type { JournalRecord } from "../src/metadata/metadata-store.js";
import { openSet } from "../src/metadata/open-set.js";
import { openRemappedDevice } from "../src/remap/remapped-device.js";

const ENTRIES = Number(process.env.ENTRIES ?? 1_000_000);
const BLOCK = 4096;
const RUNS = 3;

/** Result of the open benchmark. */
export interface OpenBenchResult {
  readonly entries: number;
  readonly buildMs: number;
  readonly openMs: number[];
  readonly heapMiB: number;
}

/** Build a set with `entries` remaps under `dir` and time opening it `RUNS` times. */
export async function openBench(dir: string, entries = ENTRIES): Promise<OpenBenchResult> {
  const mainPath = join(dir, "open-main.img");
  const sparePath = join(dir, "open-spare.img");
  await rm(mainPath, { force: true });
  await rm(sparePath, { force: true });
  // Sparse: only metadata is ever written. Main: 4 blocks per remap; spare: one slot per remap + metadata.
  const main = await FileDevice.create(mainPath, entries * 4 * BLOCK);
  const spare = await FileDevice.create(sparePath, entries * BLOCK + (256 << 20));
  try {
    const created = await createSet({ main, spares: [spare], blockSize: BLOCK, name: "open-bench" });
    // The store keeps its own table: records go through the journal, checkpoints fold it.
    const t0 = performance.now();
    const snapshot = { blocks: new Float64Array(0), slots: new Uint32Array(0), pending: new Float64Array(0) };
    for (let i = 0; i < entries; i += 4096) {
      const batch: JournalRecord[] = [];
      for (let j = i; j < Math.min(entries, i + 4096); j++) {
        batch.push({ type: "remap", block: j * 4 + (j % 3), slot: (j * 7919) % entries, reason: "manual" });
      }
      await created.store.append(batch);
      if (created.store.wantsCheckpoint)
        await created.store.checkpoint({ ...snapshot, lost: new Map(), counters: {} });
    }
    await created.store.checkpoint({ ...snapshot, lost: new Map(), counters: {} });
    const buildMs = performance.now() - t0;
    await created.store.close();
    const openMs: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      const t1 = performance.now();
      const opened = await openSet({ spares: [spare], main });
      const device = openRemappedDevice({ main, spares: [spare], opened });
      openMs.push(performance.now() - t1);
      if (device.remappedCount !== entries) throw new Error(`opened ${device.remappedCount} entries`);
      await opened.store.close();
    }
    return { entries, buildMs, openMs, heapMiB: process.memoryUsage().rss / 2 ** 20 };
  } finally {
    await main.close();
    await spare.close();
    await rm(mainPath, { force: true });
    await rm(sparePath, { force: true });
  }
}

if (process.argv[1]?.endsWith("open-bench.js")) {
  console.log(JSON.stringify(await openBench(process.argv[2] ?? "/dev/shm")));
}
