// Drain copy speed against a raw copy of the same size: a set on files with N remapped blocks on
// spare 0 is drained to spare 1 (read, write, flush, commit per block) while idle, then `dd` copies
// the same number of bytes between the same files (conv=fsync). Part of `npm run bench` (--only=spares).
import { spawnSync } from "node:child_process";
import { writeFile, truncate } from "node:fs/promises";
import { join } from "node:path";
import { openDevice } from "../src/block/open-device.js";
import { createSet } from "../src/metadata/create-set.js";
import { openRemappedDevice } from "../src/remap/remapped-device.js";
import { DrainJob } from "../src/spares/drain.js";

const BS = 4096;

async function sparse(path: string, sizeBytes: number): Promise<string> {
  await writeFile(path, "");
  await truncate(path, sizeBytes);
  return path;
}

/** Drain `blocks` remapped blocks and dd the same bytes; returns the report lines and raw numbers. */
export async function spareDrainBench(
  dir: string,
  blocks = 4096,
): Promise<{ notes: string[]; raw: Record<string, number> }> {
  const spareBytes = blocks * BS * 2 + (16 << 20);
  const paths = [
    await sparse(join(dir, "drain-main.img"), blocks * BS * 2),
    await sparse(join(dir, "drain-s0.img"), spareBytes),
    await sparse(join(dir, "drain-s1.img"), spareBytes),
  ];
  const [main, ...spares] = await Promise.all(paths.map((p) => openDevice(p)));
  const opened = await createSet({ main: main!, spares, blockSize: BS, name: "bench" });
  const dev = openRemappedDevice({ main: main!, spares, opened });
  const data = new Uint8Array(blocks * BS).map((_, i) => (i * 7) & 255);
  await dev.write(0, data);
  for (let b = 0; b < blocks; b++) await dev.remapBlock(b);
  await dev.flush();
  const started = performance.now();
  const progress = await new DrainJob(dev, 0).start();
  const drainS = (performance.now() - started) / 1000;
  await dev.close();
  const mib = (blocks * BS) / (1 << 20);
  const dd = spawnSync(
    "dd",
    [`if=${paths[1]}`, `of=${join(dir, "drain-copy.img")}`, "bs=1M", `count=${Math.ceil(mib)}`, "conv=fsync"],
    { encoding: "utf8" },
  );
  const ddS = Number(/([\d.]+) s,/.exec(dd.stderr)?.[1] ?? NaN);
  const drainMiBs = mib / drainS;
  const ddMiBs = mib / ddS;
  return {
    notes: [
      `spare drain, idle, ${progress.done} blocks of 4 KiB (${mib.toFixed(0)} MiB): ${drainMiBs.toFixed(1)} MiB/s ` +
        `(${progress.rateBlocksPerSecond.toFixed(0)} blocks/s, each read, written, flushed and committed) vs raw dd ` +
        `${ddMiBs.toFixed(1)} MiB/s = ${((100 * drainMiBs) / ddMiBs).toFixed(0)} % (target >= 80 %)`,
    ],
    raw: { blocks: progress.done, drainSeconds: drainS, ddSeconds: ddS, drainMiBs, ddMiBs },
  };
}
