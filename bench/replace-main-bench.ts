// Replace-main copy speed against a raw copy of the same size, same run, same kind of files: a set on
// files whose main (MIB MiB, a few remapped blocks) is replaced by a new file while idle, and `dd`
// copies the old main file to another file (bs=1M, conv=fsync); three rounds, each replace then dd,
// so drift and neighbours hit both sides (the range of the rounds is reported). Where the directory
// takes O_DIRECT (ext4; tmpfs since Linux 6.6), as many rounds with both mains opened direct
// (file+direct:) against `dd iflag=direct oflag=direct conv=fsync`. A last replacement runs under an
// in-process foreground load of 4 KiB random writes and reads, whose rate is compared with the same
// load alone.
// Part of `npm run bench` (--only=replace); alone: node dist/bench/replace-main-bench.js [DIR] [MIB].
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

/**
 * A served set on files (main of `mib` MiB, filled, 64 blocks remapped) with the tee over main; the
 * mains are opened O_DIRECT when `direct`.
 */
async function servedSet(dir: string, tag: string, mib: number, direct = false) {
  const paths = [
    await sparse(join(dir, `replace-${tag}-main.img`), mib << 20),
    await sparse(join(dir, `replace-${tag}-s0.img`), 16 << 20),
    await sparse(join(dir, `replace-${tag}-new.img`), mib << 20),
  ];
  const spec = (path: string) => (direct ? `file+direct:${path}` : path);
  const [main, spare] = await Promise.all([openDevice(spec(paths[0]!)), openDevice(paths[1]!)]);
  const tee = new ReplaceTee(main!);
  const opened = await createSet({ main: tee, spares: [spare!], blockSize: BS, name: "bench" });
  const dev = openRemappedDevice({ main: tee, spares: [spare!], opened });
  const chunk = new Uint8Array(4 << 20).map((_, i) => (i * 7) & 255);
  for (let at = 0; at < mib << 20; at += chunk.length) await dev.write(at, chunk);
  for (let b = 0; b < 64; b++) await dev.remapBlock(b * 97);
  await dev.flush();
  const replace = async () => {
    await tee.arm(await openDevice(spec(paths[2]!), { exclusive: true }), BS);
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

/** One idle replacement of a `mib` MiB main, then dd of the same bytes: MiB/s of each. */
async function idleRound(dir: string, mib: number, direct: boolean) {
  const idle = await servedSet(dir, direct ? "direct" : "idle", mib, direct);
  const started = performance.now();
  const done = await idle.replace();
  const replaceMiBs = mib / ((performance.now() - started) / 1000);
  await idle.dev.close();
  const copy = join(dir, "replace-copy.img");
  const dd = spawnSync(
    "dd",
    [
      `if=${idle.paths[0]}`,
      `of=${copy}`,
      "bs=1M",
      "conv=fsync",
      ...(direct ? ["iflag=direct", "oflag=direct"] : []),
    ],
    { encoding: "utf8" },
  );
  const ddMiBs = mib / Number(/([\d.]+) s,/.exec(dd.stderr)?.[1] ?? NaN);
  await rm(copy, { force: true });
  for (const p of idle.paths) await rm(p, { force: true });
  return { replaceMiBs, ddMiBs, ratio: (100 * replaceMiBs) / ddMiBs, unremapped: done.unremapped };
}

/** Does `dir` take O_DIRECT opens (tmpfs before Linux 6.6 does not)? */
async function takesDirect(dir: string): Promise<boolean> {
  const probe = await sparse(join(dir, "replace-direct-probe.img"), 1 << 20);
  try {
    await (await openDevice(`file+direct:${probe}`)).close();
    return true;
  } catch {
    return false;
  } finally {
    await rm(probe, { force: true });
  }
}

const range = (values: number[], digits = 0) =>
  `${Math.min(...values).toFixed(digits)}-${Math.max(...values).toFixed(digits)}`;

/** Replace a `mib` MiB main and dd the same bytes; returns the report lines and raw numbers. */
export async function replaceMainBench(
  dir: string,
  mib = 256,
  rounds = 3,
): Promise<{ notes: string[]; raw: Record<string, number> }> {
  const runs = [];
  for (let r = 0; r < rounds; r++) runs.push(await idleRound(dir, mib, false));
  const directRuns = [];
  if (await takesDirect(dir))
    for (let r = 0; r < rounds; r++) directRuns.push(await idleRound(dir, mib, true));
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  const ratios = runs.map((r) => r.ratio).sort((a, b) => a - b);
  const directRatios = directRuns.map((r) => r.ratio).sort((a, b) => a - b);
  const replaceMiBs = runs.map((r) => r.replaceMiBs);
  const ddMiBs = runs.map((r) => r.ddMiBs);

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
  for (const p of busy.paths) await rm(p, { force: true });
  return {
    notes: [
      `replace-main, idle, ${dir}, ${mib} MiB main (${runs[0]!.unremapped} remapped blocks moved back), ${rounds} rounds: ` +
        `${range(replaceMiBs)} MiB/s vs raw dd of the same bytes ${range(ddMiBs)} MiB/s = ` +
        `${ratios.map((r) => r.toFixed(0)).join(", ")} % (median ${median(ratios).toFixed(0)} %, target >= 80 %)`,
      directRuns.length > 0
        ? `replace-main, idle, O_DIRECT mains, ${rounds} rounds: ${range(directRuns.map((r) => r.replaceMiBs))} MiB/s ` +
          `vs dd iflag=direct oflag=direct ${range(directRuns.map((r) => r.ddMiBs))} MiB/s = ` +
          `${directRatios.map((r) => r.toFixed(0)).join(", ")} % (median ${median(directRatios).toFixed(0)} %)`
        : `replace-main, O_DIRECT: ${dir} does not take O_DIRECT; no direct round`,
      `replace-main under a 4 KiB random read/write foreground load, ${dir}: copy ${(mib / busyS).toFixed(0)} MiB/s, ` +
        `foreground ${duringOps.toFixed(0)} ops/s during the copy vs ${aloneOps.toFixed(0)} ops/s alone`,
    ],
    raw: {
      mib,
      replaceMiBs: Math.max(...replaceMiBs),
      ddMiBs: Math.max(...ddMiBs),
      ratioPercent: median(ratios),
      ...(directRuns.length > 0
        ? {
            directReplaceMiBs: Math.max(...directRuns.map((r) => r.replaceMiBs)),
            directDdMiBs: Math.max(...directRuns.map((r) => r.ddMiBs)),
            directRatioPercent: median(directRatios),
          }
        : {}),
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
