// Replace-main copy speed against a raw copy of the same size, same run, same kind of files: a set on
// files whose main (MIB MiB, a few remapped blocks) is replaced by a new file while idle, and `dd`
// copies the old main file to another file (bs=1M, conv=fsync). A second replacement runs under an
// in-process foreground load of 4 KiB random writes and reads, whose rate is compared with the same
// load alone. Part of `npm run bench` (--only=replace); alone: node dist/bench/replace-main-bench.js [DIR] [MIB].
import { spawnSync } from "node:child_process";
import { mkdtemp, rm, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { openDevice } from "../src/block/open-device.js";
import { Prng } from "../src/block/prng.js";
import { ReplaceTee } from "../src/block/replace-tee.js";
import { createSet } from "../src/metadata/create-set.js";
import { SpareStore } from "../src/metadata/spare-store.js";
import { openRemappedDevice, type RemappedDevice } from "../src/remap/remapped-device.js";
import { ReplaceMainJob } from "../src/spares/replace-main.js";

const BS = 4096;

async function sparse(path: string, sizeBytes: number): Promise<string> {
  await writeFile(path, "");
  await truncate(path, sizeBytes);
  return path;
}

/** A served set on files (main of `mib` MiB, filled, 64 blocks remapped) with the tee over main. */
async function servedSet(dir: string, tag: string, mib: number) {
  const paths = [
    await sparse(join(dir, `replace-${tag}-main.img`), mib << 20),
    await sparse(join(dir, `replace-${tag}-s0.img`), 16 << 20),
    await sparse(join(dir, `replace-${tag}-new.img`), mib << 20),
  ];
  const [main, spare] = await Promise.all(paths.slice(0, 2).map((p) => openDevice(p)));
  const tee = new ReplaceTee(main!);
  const opened = await createSet({ main: tee, spares: [spare!], blockSize: BS, name: "bench" });
  const dev = openRemappedDevice({ main: tee, spares: [spare!], opened });
  const chunk = new Uint8Array(4 << 20).map((_, i) => (i * 7) & 255);
  for (let at = 0; at < mib << 20; at += chunk.length) await dev.write(at, chunk);
  for (let b = 0; b < 64; b++) await dev.remapBlock(b * 97);
  await dev.flush();
  const replace = async () => {
    await tee.arm(await openDevice(paths[2]!, { exclusive: true }), BS);
    const store = opened.store as SpareStore;
    const job = new ReplaceMainJob(dev, tee, {
      commitSwitch: () => store.commitMainIdentity({ kind: "memory", sizeBytes: dev.sizeBytes }),
      save: async () => {},
    });
    return job.start();
  };
  return { dev, paths, replace };
}

/** 4 KiB random writes and reads over the whole device until `stop()`; returns ops per second. */
function foreground(dev: RemappedDevice, seed: number): { stop: () => Promise<number> } {
  const rng = new Prng(seed);
  let running = true;
  let ops = 0;
  const started = performance.now();
  const buf = new Uint8Array(BS).fill(seed & 255);
  const loop = (async () => {
    while (running) {
      const at = rng.nextInt(dev.blockCount) * BS;
      if (ops % 2 === 0) await dev.write(at, buf);
      else await dev.read(at, new Uint8Array(BS));
      // Yield to timers now and then: on tmpfs a request may complete without a real wait.
      if (++ops % 64 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return ops / ((performance.now() - started) / 1000);
    },
  };
}

/** Replace a `mib` MiB main and dd the same bytes; returns the report lines and raw numbers. */
export async function replaceMainBench(
  dir: string,
  mib = 256,
): Promise<{ notes: string[]; raw: Record<string, number> }> {
  const idle = await servedSet(dir, "idle", mib);
  const started = performance.now();
  const done = await idle.replace();
  const replaceS = (performance.now() - started) / 1000;
  await idle.dev.close();
  const dd = spawnSync(
    "dd",
    [`if=${idle.paths[0]}`, `of=${join(dir, "replace-copy.img")}`, "bs=1M", "conv=fsync"],
    { encoding: "utf8" },
  );
  const ddS = Number(/([\d.]+) s,/.exec(dd.stderr)?.[1] ?? NaN);
  const replaceMiBs = mib / replaceS;
  const ddMiBs = mib / ddS;

  // Foreground rate alone, then during a replacement of the same size.
  const busy = await servedSet(dir, "busy", mib);
  const alone = foreground(busy.dev, 1);
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const aloneOps = await alone.stop();
  const during = foreground(busy.dev, 2);
  const busyStarted = performance.now();
  await busy.replace();
  const busyS = (performance.now() - busyStarted) / 1000;
  const duringOps = await during.stop();
  await busy.dev.close();
  await rm(join(dir, "replace-copy.img"), { force: true });
  for (const p of [...idle.paths, ...busy.paths]) await rm(p, { force: true });
  const ratio = (100 * replaceMiBs) / ddMiBs;
  return {
    notes: [
      `replace-main, idle, ${mib} MiB main (${done.unremapped} remapped blocks moved back): ${replaceMiBs.toFixed(0)} MiB/s ` +
        `vs raw dd of the same bytes ${ddMiBs.toFixed(0)} MiB/s = ${ratio.toFixed(0)} % (target >= 80 %)`,
      `replace-main under a 4 KiB random read/write foreground load: copy ${(mib / busyS).toFixed(0)} MiB/s, ` +
        `foreground ${duringOps.toFixed(0)} ops/s during the copy vs ${aloneOps.toFixed(0)} ops/s alone`,
    ],
    raw: {
      mib,
      replaceSeconds: replaceS,
      ddSeconds: ddS,
      replaceMiBs,
      ddMiBs,
      ratioPercent: ratio,
      busyReplaceMiBs: mib / busyS,
      foregroundOpsAlone: aloneOps,
      foregroundOpsDuringReplace: duringOps,
    },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const base = process.argv[2] ?? "/dev/shm";
  const dir = await mkdtemp(join(base, "dmremap-replace-bench-"));
  try {
    const result = await replaceMainBench(dir, Number(process.argv[3] ?? 256));
    for (const line of result.notes) console.log(line);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
