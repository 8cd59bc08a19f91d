// In-process cost of random 4 KiB reads through RemappedDevice with 0 and N remaps (no sockets):
// tmpfs main and spare, queue depth 32, seeded offsets; the "N remaps vs 0" cost without NBD noise.
// Run: node dist/bench/remap-read-bench.js [--remaps=10000] [--reads=400000] [--rounds=3] [DIR]
// Copy the built file into another build's dist/bench/ to measure that build the same way.
import { mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { FileDevice } from "../src/block/file-device.js";
import { Prng } from "../src/block/prng.js";
import { createSet } from "../src/metadata/create-set.js";
import { openRemappedDevice, type RemappedDevice } from "../src/remap/remapped-device.js";
import { writeRandomImage } from "./setup.js";

const BLOCK = 4096;
const MAIN_BYTES = 1 << 30;
const QUEUE_DEPTH = 32;

function option(name: string, fallback: number): number {
  const hit = process.argv.find((a) => a.startsWith(`--${name}=`));
  return hit ? Number(hit.slice(name.length + 3)) : fallback;
}

/** A set on the shared random `mainPath` (its own spare), with `remaps` blocks remapped evenly. */
async function openWithRemaps(
  dir: string,
  mainPath: string,
  tag: string,
  remaps: number,
): Promise<RemappedDevice> {
  const main = await FileDevice.open(mainPath);
  const spare = await FileDevice.create(
    join(dir, `${tag}-spare.img`),
    (64 << 20) + Math.ceil((remaps * 1.1) / 16) * 16 * BLOCK,
  );
  const opened = await createSet({ main, spares: [spare], blockSize: BLOCK, name: tag, mainSpec: tag });
  const device = openRemappedDevice({ main, spares: [spare], opened });
  const stride = MAIN_BYTES / BLOCK / Math.max(1, remaps);
  for (let i = 0; i < remaps; i++) await device.remapBlock(Math.floor(i * stride + stride / 2));
  return device;
}

/**
 * CPU nanoseconds (user + system, this process) per read of `reads` random 4 KiB reads, QUEUE_DEPTH at
 * a time: steadier than wall time on a shared machine.
 */
async function timeReads(device: RemappedDevice, reads: number, seed: number): Promise<number> {
  const prng = new Prng(seed);
  const blocks = MAIN_BYTES / BLOCK;
  const buffers = Array.from({ length: QUEUE_DEPTH }, () => Buffer.alloc(BLOCK));
  let issued = 0;
  const lane = async (buf: Buffer): Promise<void> => {
    while (issued < reads) {
      issued++;
      await device.read(prng.nextInt(blocks) * BLOCK, buf);
    }
  };
  const t0 = process.cpuUsage();
  await Promise.all(buffers.map(lane));
  const used = process.cpuUsage(t0);
  return ((used.user + used.system) * 1000) / reads;
}

const remaps = option("remaps", 10_000);
const reads = option("reads", 400_000);
const rounds = option("rounds", 3);
const dir = await mkdtemp(join(process.argv.slice(2).find((a) => !a.startsWith("--")) ?? "/dev/shm", "rrb-"));
try {
  // Random data, as in the NBD benchmarks: reads of a sparse hole would all copy one cached zero page.
  const mainPath = join(dir, "main.img");
  await writeRandomImage(mainPath, MAIN_BYTES);
  const zero = await openWithRemaps(dir, mainPath, "zero", 0);
  const many = await openWithRemaps(dir, mainPath, "many", remaps);
  const result: { zeroNs: number[]; manyNs: number[] } = { zeroNs: [], manyNs: [] };
  await timeReads(zero, reads / 4, 99);
  await timeReads(many, reads / 4, 99);
  for (let r = 0; r < rounds; r++) {
    // Alternate the order, like the NBD comparisons.
    const order = r % 2 === 0 ? [zero, many] : [many, zero];
    for (const device of order) {
      const ns = await timeReads(device, reads, r + 1);
      (device === zero ? result.zeroNs : result.manyNs).push(Math.round(ns));
    }
  }
  const best = (xs: number[]) => Math.min(...xs);
  console.log(
    JSON.stringify({
      remaps,
      remappedShare: remaps / (MAIN_BYTES / BLOCK),
      ...result,
      bestRatio: Number((best(result.zeroNs) / best(result.manyNs)).toFixed(3)),
    }),
  );
  await zero.close();
  await many.close();
} finally {
  await rm(dir, { recursive: true, force: true });
}
