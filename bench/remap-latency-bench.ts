// Write-error-to-acknowledgement latency of automatic remaps: RemappedDevice over a dust fault
// layer over a tmpfs FileDevice main, spare on tmpfs; every timed write hits a bad block.
// Run: node dist/bench/remap-latency-bench.js [DIR]   (prints one JSON line)
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { FaultDevice } from "../src/block/fault-device.js";
import { FileDevice } from "../src/block/file-device.js";
import { createSet } from "../src/metadata/create-set.js";
import { openRemappedDevice } from "../src/remap/remapped-device.js";

const BLOCK = 4096;
const BAD_BLOCKS = Number(process.env.BAD_BLOCKS ?? 2000);

/** Latency percentiles of the remapping writes, and of plain writes for comparison. */
export interface RemapLatencyResult {
  readonly remaps: number;
  readonly remapP50Us: number;
  readonly remapP99Us: number;
  readonly remapMaxUs: number;
  readonly plainWriteP50Us: number;
  readonly remappedBlocks: number;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Time `count` writes that each hit a bad block and trigger an automatic remap. */
export async function remapLatencyBench(dir: string, count = BAD_BLOCKS): Promise<RemapLatencyResult> {
  const mainPath = join(dir, "lat-main.img");
  const sparePath = join(dir, "lat-spare.img");
  await rm(mainPath, { force: true });
  await rm(sparePath, { force: true });
  const file = await FileDevice.create(mainPath, 256 << 20);
  const spare = await FileDevice.create(sparePath, 64 << 20);
  const bad = Array.from({ length: count }, (_, i) => i * 31 + 7);
  const main = new FaultDevice(file, { rules: [{ kind: "dust", blockSize: BLOCK, blocks: bad }] });
  const opened = await createSet({
    main,
    spares: [spare],
    blockSize: BLOCK,
    name: "lat-bench",
    mainSpec: mainPath,
  });
  const device = openRemappedDevice({ main, spares: [spare], opened });
  try {
    const data = Buffer.alloc(BLOCK, 0x5a);
    const plain: number[] = [];
    for (let i = 0; i < 500; i++) {
      const t0 = performance.now();
      await device.write((i * 31 + 8) * BLOCK, data);
      plain.push((performance.now() - t0) * 1000);
    }
    const lat: number[] = [];
    for (const block of bad) {
      const t0 = performance.now();
      await device.write(block * BLOCK, data);
      lat.push((performance.now() - t0) * 1000);
    }
    lat.sort((a, b) => a - b);
    plain.sort((a, b) => a - b);
    return {
      remaps: lat.length,
      remapP50Us: percentile(lat, 50),
      remapP99Us: percentile(lat, 99),
      remapMaxUs: lat[lat.length - 1]!,
      plainWriteP50Us: percentile(plain, 50),
      remappedBlocks: device.remappedCount,
    };
  } finally {
    await device.close();
    await rm(mainPath, { force: true });
    await rm(sparePath, { force: true });
  }
}

if (process.argv[1]?.endsWith("remap-latency-bench.js")) {
  console.log(JSON.stringify(await remapLatencyBench(process.argv[2] ?? "/dev/shm")));
}
