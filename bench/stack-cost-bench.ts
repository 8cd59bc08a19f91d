// In-process CPU cost per request of the served stack without sockets: RemappedDevice (with its
// write fence) over the replace-main tee over a file on tmpfs, as `serve` builds it; random 4 KiB reads and writes, queue depth 32, seeded offsets, CPU ns per request (user +
// system of this process), rounds alternating reads and writes, best round kept. Compares builds
// without NBD noise: copy the built file into another build's dist/bench/ to measure that build.
// --promise-only=1 skips the synchronous fast path (answer-now.ts) the NBD transmission tries first.
// Run: node dist/bench/stack-cost-bench.js [--requests=300000] [--rounds=3] [--promise-only=1] [DIR]
import { mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { FileDevice } from "../src/block/file-device.js";
import { Prng } from "../src/block/prng.js";
import { ReplaceTee } from "../src/block/replace-tee.js";
import type { BlockDevice } from "../src/block/block-device.js";
import { createSet } from "../src/metadata/create-set.js";
import { openRemappedDevice } from "../src/remap/remapped-device.js";
import { writeRandomImage } from "./setup.js";

const BLOCK = 4096;
const MAIN_BYTES = 256 << 20;
const QUEUE_DEPTH = 32;

function option(name: string, fallback: number): number {
  const hit = process.argv.find((a) => a.startsWith(`--${name}=`));
  return hit ? Number(hit.slice(name.length + 3)) : fallback;
}

/** The synchronous fast path of builds that have one (src/block/answer-now.ts), looked up by name. */
interface MaybeAnswerNow {
  tryReadNow?(offsetBytes: number, target: Uint8Array): boolean;
  tryWriteNow?(offsetBytes: number, data: Uint8Array): boolean;
}

/**
 * CPU ns per request of `count` random 4 KiB requests of `kind`, QUEUE_DEPTH at a time. Like the NBD
 * transmission, each request tries the synchronous fast path first (unless `promiseOnly` or the build
 * has none) and takes the promise path when it is refused.
 */
async function timeRequests(
  device: BlockDevice,
  kind: "read" | "write",
  count: number,
  seed: number,
  promiseOnly: boolean,
) {
  const prng = new Prng(seed);
  const blocks = MAIN_BYTES / BLOCK;
  const buffers = Array.from({ length: QUEUE_DEPTH }, (_, i) => Buffer.alloc(BLOCK, i));
  const fast = device as MaybeAnswerNow;
  const now = promiseOnly
    ? undefined
    : kind === "read"
      ? fast.tryReadNow?.bind(device)
      : fast.tryWriteNow?.bind(device);
  let issued = 0;
  const lane = async (buf: Buffer): Promise<void> => {
    while (issued < count) {
      issued++;
      const at = prng.nextInt(blocks) * BLOCK;
      if (now && now(at, buf)) continue;
      await (kind === "read" ? device.read(at, buf) : device.write(at, buf));
    }
  };
  const t0 = process.cpuUsage();
  await Promise.all(buffers.map(lane));
  const used = process.cpuUsage(t0);
  return Math.round(((used.user + used.system) * 1000) / count);
}

const requests = option("requests", 300_000);
const rounds = option("rounds", 3);
const promiseOnly = option("promise-only", 0) === 1;
const dir = await mkdtemp(join(process.argv.slice(2).find((a) => !a.startsWith("--")) ?? "/dev/shm", "scb-"));
try {
  const mainPath = join(dir, "main.img");
  await writeRandomImage(mainPath, MAIN_BYTES);
  const tee = new ReplaceTee(await FileDevice.open(mainPath));
  const spare = await FileDevice.create(join(dir, "spare.img"), 64 << 20);
  const opened = await createSet({
    main: tee,
    spares: [spare],
    blockSize: BLOCK,
    name: "scb",
    mainSpec: "scb",
  });
  const remapped = openRemappedDevice({ main: tee, spares: [spare], opened });
  const device = remapped;
  const ns: { read: number[]; write: number[] } = { read: [], write: [] };
  await timeRequests(device, "read", requests / 4, 99, promiseOnly);
  await timeRequests(device, "write", requests / 4, 99, promiseOnly);
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? (["read", "write"] as const) : (["write", "read"] as const);
    for (const kind of order) ns[kind].push(await timeRequests(device, kind, requests, r + 1, promiseOnly));
  }
  console.log(
    JSON.stringify({
      requests,
      promiseOnly,
      readNs: ns.read,
      writeNs: ns.write,
      bestRead: Math.min(...ns.read),
      bestWrite: Math.min(...ns.write),
    }),
  );
  await device.close();
} finally {
  await rm(dir, { recursive: true, force: true });
}
