// Drain copy speed against a raw copy of the same size, same run, on tmpfs and on disk: a set on
// files with N remapped blocks (remapped 256 at a time) is drained from one spare to the other and
// back while idle, alternating with `dd` of the same bytes from the source spare's data area to a
// file (bs=1M, conv=fsync,notrunc: like the drain's slots, the copy rewrites pages after its first
// round); warm-up rounds of each, then three rounds, the best of each kept, with the CPU each side
// used (median; dd's read from bash's `times`). A last drain runs under an in-process load of 4 KiB
// random writes and reads (one at a time), whose rate is compared with the same load alone. Each
// directory is measured in turn (default /dev/shm, /var/tmp, and /var/tmp with the page cache out of
// the way: a directory written "direct:DIR" opens the spares O_DIRECT (file+direct:) and runs dd with
// iflag=direct oflag=direct). Part of `npm run bench` (--only=spares); alone:
// node dist/bench/spare-drain-bench.js [DIRS] [BLOCKS] [BATCH_BYTES] [DEPTH] (DIRS comma-separated).
// The drain alone (before/after comparisons of the code, no dd):
// node dist/bench/spare-drain-bench.js --drain-only [DIR] [ROUNDS] [BLOCKS] [BATCH_BYTES] [DEPTH].
import { spawnSync } from "node:child_process";
import { mkdtemp, open, rm, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { directIoTotals } from "../src/block/direct-io.js";
import { openDevice } from "../src/block/open-device.js";
import { Prng } from "../src/block/prng.js";
import { createSet } from "../src/metadata/create-set.js";
import { openRemappedDevice, type RemappedDevice } from "../src/remap/remapped-device.js";
import { DrainJob, copiedByWorkers, defaultBatchBytes, defaultDrainDepth } from "../src/spares/drain.js";

const BS = 4096;
/** Drain and dd rounds of the idle comparison. */
const ROUNDS = 3;
/**
 * Warm-up rounds before them, not counted: a drain of the bench's size is over before V8 has
 * optimized the drain's code (TurboFan was still compiling readSpareBatch, writeSpareBatch,
 * commitSpareBatches and the copier between the 11th and the 22nd drain of 128 MiB of a process),
 * while a real drain of a spare (GiBs) runs optimized code nearly all the way; after 8 rounds instead
 * of 1 the drain used 77 - 95 ms of CPU per 128 MiB on tmpfs instead of 90 - 115 (three alternated runs).
 */
const WARMUP_ROUNDS = 8;
/** remapBlock calls in flight while the set is built (they share metadata commits). */
const SETUP_CONCURRENCY = 256;

/** Directories measured by default: memory, disk through the page cache, disk with O_DIRECT. */
export const DRAIN_BENCH_DIRS = ["/dev/shm", "/var/tmp", "direct:/var/tmp"];

/** Prefix of a directory whose spares are opened O_DIRECT and whose dd copy is direct. */
const DIRECT_PREFIX = "direct:";

async function sparse(path: string, sizeBytes: number): Promise<string> {
  await writeFile(path, "");
  await truncate(path, sizeBytes);
  return path;
}

/**
 * A file of `sizeBytes` written with zeroes, so no drain writes into a hole (a spare is a disk or a
 * partition: every slot exists before the first drain, as every page of dd's copy does after its
 * first round).
 */
async function filled(path: string, sizeBytes: number): Promise<string> {
  const chunk = Buffer.alloc(8 << 20);
  const file = await open(path, "w");
  try {
    for (let at = 0; at < sizeBytes; at += chunk.length)
      await file.write(chunk, 0, Math.min(chunk.length, sizeBytes - at), at);
    await file.sync();
  } finally {
    await file.close();
  }
  return path;
}

/** File system type of `dir` (tmpfs, ext4, ...), for the report. */
function fsType(dir: string): string {
  const out = spawnSync("df", ["--output=fstype", dir], { encoding: "utf8" });
  return out.status === 0 ? (out.stdout.trim().split("\n").pop() ?? "unknown") : "unknown";
}

/**
 * A served set on files with `blocks` remapped blocks, all on spare 0 (spare files written in full;
 * spares opened O_DIRECT when
 * `direct`; main stays buffered, the drain never touches it); returns it and its paths.
 */
async function remappedSet(dir: string, blocks: number, direct: boolean) {
  const spareBytes = blocks * BS * 2 + (16 << 20);
  const paths = [
    await sparse(join(dir, "drain-main.img"), blocks * BS * 2),
    await filled(join(dir, "drain-s0.img"), spareBytes),
    await filled(join(dir, "drain-s1.img"), spareBytes),
  ];
  const [main, ...spares] = await Promise.all(
    paths.map((p, i) => openDevice(direct && i > 0 ? `file+direct:${p}` : p)),
  );
  const opened = await createSet({ main: main!, spares, blockSize: BS, name: "bench" });
  const dev = openRemappedDevice({ main: main!, spares, opened });
  const data = new Uint8Array(blocks * BS).map((_, i) => (i * 7) & 255);
  await dev.write(0, data);
  for (let b = 0; b < blocks; b += SETUP_CONCURRENCY)
    await Promise.all(
      Array.from({ length: Math.min(SETUP_CONCURRENCY, blocks - b) }, (_, i) => dev.remapBlock(b + i)),
    );
  await dev.flush();
  const dataOffsets = dev.setIdentity.spares.map((s) => s.dataOffsetBytes);
  return { dev, paths, dataOffsets };
}

/** 4 KiB random writes and reads over the whole device until `stop()`; returns ops per second. */
function foreground(dev: RemappedDevice, seed: number): { stop: () => Promise<number> } {
  const rng = new Prng(seed);
  let running = true;
  let ops = 0;
  const started = performance.now();
  const buf = new Uint8Array(BS).fill(seed & 255);
  const into = new Uint8Array(BS);
  const loop = (async () => {
    while (running) {
      const at = rng.nextInt(dev.blockCount) * BS;
      if (ops % 2 === 0) await dev.write(at, buf);
      else await dev.read(at, into);
      // Small I/O on a memory-backed file completes synchronously: let timers and the drain run.
      if (++ops % 32 === 0) await new Promise((resolve) => setImmediate(resolve));
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

/** One dd copy: its own figure (seconds from its first read to the end of its fsync) and its CPU. */
interface DdRun {
  readonly seconds: number;
  /** User + system CPU of dd, in ms (bash's `times` for its child). */
  readonly cpuMs: number;
}

/** Seconds of a `times` figure such as "0m0.054s". */
function timesSeconds(figure: string): number {
  const m = /^(\d+)m([\d.]+)s$/.exec(figure);
  return m ? Number(m[1]) * 60 + Number(m[2]) : NaN;
}

/**
 * `dd` of `mib` MiB from `from` at `skipBytes` to `to` (rewritten in place, fsync at the end; both
 * sides O_DIRECT when `direct`), run from bash so that its CPU time can be read (`times`).
 */
function ddRun(from: string, skipBytes: number, to: string, mib: number, direct: boolean): DdRun {
  const args = [
    `if=${from}`,
    `of=${to}`,
    "bs=1M",
    `skip=${skipBytes}`,
    `count=${Math.ceil(mib)}`,
    direct ? "iflag=skip_bytes,direct" : "iflag=skip_bytes",
    ...(direct ? ["oflag=direct"] : []),
    "conv=fsync,notrunc",
  ];
  const dd = spawnSync("bash", ["-c", 'dd "$@" && times', "dd", ...args], { encoding: "utf8" });
  const seconds = Number(/([\d.]+) s,/.exec(dd.stderr)?.[1] ?? NaN);
  if (dd.status !== 0 || !Number.isFinite(seconds)) throw new Error(`dd failed: ${dd.stderr.trim()}`);
  // `times` prints the shell's user and system time, then its children's (dd's).
  const child = dd.stdout.trim().split("\n")[1]?.split(/\s+/) ?? [];
  const cpuMs = 1000 * (timesSeconds(child[0] ?? "") + timesSeconds(child[1] ?? ""));
  return { seconds, cpuMs };
}

/** Options of one directory's measurement. */
export interface DrainBenchOptions {
  readonly blocks?: number;
  readonly batchBytes?: number;
  readonly depth?: number;
}

/**
 * Idle drains against dd, then a drain under foreground load, in `target` (a directory, or
 * "direct:DIR" for O_DIRECT spares and dd); report lines and raw numbers.
 */
export async function spareDrainBenchIn(
  target: string,
  options: DrainBenchOptions = {},
): Promise<{ notes: string[]; raw: Record<string, number> }> {
  const direct = target.startsWith(DIRECT_PREFIX);
  const dir = direct ? target.slice(DIRECT_PREFIX.length) : target;
  const blocks = options.blocks ?? 32768;
  const mib = (blocks * BS) / (1 << 20);
  const label = `${dir} (${fsType(dir)}${direct ? ", O_DIRECT" : ""})`;
  const work = await mkdtemp(join(dir, "dmremap-drain-bench-"));
  try {
    const set = await remappedSet(work, blocks, direct);
    const batchBytes = options.batchBytes ?? defaultBatchBytes(set.dev);
    const depth = options.depth ?? defaultDrainDepth(set.dev, 0);
    const copier = copiedByWorkers(set.dev, 0, undefined) ? "worker-thread copies" : "event-loop copies";
    const copy = join(work, "drain-copy.img");
    // Rounds alternate a drain (spare 0 -> 1, then back) with dd of the same bytes; the best of each
    // is kept, so a busy moment of a shared machine does not decide the ratio. The first rounds are a
    // warm-up, not counted: the first drain writes into the sparse destination's holes (block
    // allocation) with cold code, the next ones still run code V8 has not optimized yet, and dd's first
    // round creates its copy file. (After the first round both spares are recorded as draining: a
    // drain then still moves to the other spare, its only room.)
    // CPU of both sides too (the drain's process, all its threads; dd's): on a shared machine the
    // seconds depend on what else runs, the CPU a copy costs much less.
    const drainRuns: number[] = [];
    const ddRuns: number[] = [];
    const drainCpuMs: number[] = [];
    const ddCpuMs: number[] = [];
    let moved = 0;
    for (let round = -WARMUP_ROUNDS; round < ROUNDS; round++) {
      const from = (round + WARMUP_ROUNDS) % 2;
      const cpu = process.cpuUsage();
      const started = performance.now();
      moved = (await new DrainJob(set.dev, from, { batchBytes, depth }).start()).done;
      const drainSeconds = (performance.now() - started) / 1000;
      const used = process.cpuUsage(cpu);
      const dd = ddRun(set.paths[1 + from]!, set.dataOffsets[from]!, copy, mib, direct);
      if (round < 0) continue;
      drainRuns.push(drainSeconds);
      ddRuns.push(dd.seconds);
      drainCpuMs.push((used.user + used.system) / 1000);
      ddCpuMs.push(dd.cpuMs);
    }
    const drainMiBs = mib / Math.min(...drainRuns);
    const ddMiBs = mib / Math.min(...ddRuns);
    const drainCpu = median(drainCpuMs);
    const ddCpu = median(ddCpuMs);

    // Foreground rate alone, then during a drain of the same blocks (now on spare (ROUNDS + 1) % 2).
    const alone = foreground(set.dev, 1);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const aloneOps = await alone.stop();
    const during = foreground(set.dev, 2);
    const busyStarted = performance.now();
    await new DrainJob(set.dev, (WARMUP_ROUNDS + ROUNDS) % 2, { batchBytes, depth }).start();
    const busyDrainMiBs = mib / ((performance.now() - busyStarted) / 1000);
    const duringOps = await during.stop();
    await set.dev.close();
    const ratio = (100 * drainMiBs) / ddMiBs;
    const fgMiBs = (ops: number) => ((ops * BS) / (1 << 20)).toFixed(1);
    return {
      notes: [
        `spare drain, idle, ${label}, best of ${ROUNDS} after ${WARMUP_ROUNDS} warm-up rounds, ${moved} blocks of 4 KiB (${mib.toFixed(0)} MiB, batches of ${batchBytes >> 10} KiB, ${depth} in flight, ${copier}): ` +
          `${drainMiBs.toFixed(0)} MiB/s vs dd ${direct ? "iflag=direct oflag=direct " : ""}conv=fsync of the same bytes ${ddMiBs.toFixed(0)} MiB/s = ${ratio.toFixed(0)} % (target >= 80 %); ` +
          `rounds drain ${drainRuns.map((s) => (mib / s).toFixed(0)).join("/")}, dd ${ddRuns.map((s) => (mib / s).toFixed(0)).join("/")} MiB/s; ` +
          `CPU per copy (median) drain ${drainCpu.toFixed(0)} ms, dd ${ddCpu.toFixed(0)} ms (${(drainCpu / ddCpu).toFixed(2)}x)`,
        `spare drain under load, ${label}: drain ${busyDrainMiBs.toFixed(0)} MiB/s; foreground 4 KiB random read/write, one at a time, ` +
          `${duringOps.toFixed(0)} ops/s (${fgMiBs(duringOps)} MiB/s) during the drain vs ${aloneOps.toFixed(0)} ops/s (${fgMiBs(aloneOps)} MiB/s) alone`,
      ],
      raw: {
        blocks: moved,
        batchBytes,
        depth,
        drainSeconds: Math.min(...drainRuns),
        ddSeconds: Math.min(...ddRuns),
        drainMiBs,
        ddMiBs,
        ratioPercent: ratio,
        drainCpuMs: drainCpu,
        ddCpuMs: ddCpu,
        busyDrainMiBs,
        foregroundOpsAlone: aloneOps,
        foregroundOpsDuringDrain: duringOps,
      },
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** spareDrainBenchIn for every directory of `dirs`; raw numbers keyed by directory. */
export async function spareDrainBench(
  dirs: readonly string[] = DRAIN_BENCH_DIRS,
  options: DrainBenchOptions = {},
): Promise<{ notes: string[]; raw: Record<string, Record<string, number>> }> {
  const notes: string[] = [];
  const raw: Record<string, Record<string, number>> = {};
  for (const dir of dirs) {
    const result = await spareDrainBenchIn(dir, options);
    notes.push(...result.notes);
    raw[dir] = result.raw;
  }
  return { notes, raw };
}

/** Median of `values` (the upper one of an even count). */
function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/**
 * The drain alone, for before/after comparisons of the code: one set in `target` (a directory or
 * "direct:DIR"), two warm-up drains, then `rounds` idle drains back and forth; per drain its rate,
 * the main thread's busy time (event loop utilisation) and the process's CPU time (and for "direct:"
 * how many O_DIRECT requests went in place and how many through bounce buffers). Run it from two
 * builds in turn (processes alternated) and compare the medians.
 */
export async function drainOnly(
  target: string,
  rounds: number,
  options: DrainBenchOptions = {},
): Promise<{ notes: string[]; raw: Record<string, number> }> {
  const direct = target.startsWith(DIRECT_PREFIX);
  const dir = direct ? target.slice(DIRECT_PREFIX.length) : target;
  const blocks = options.blocks ?? 32768;
  const mib = (blocks * BS) / (1 << 20);
  const work = await mkdtemp(join(dir, "dmremap-drain-only-"));
  try {
    const set = await remappedSet(work, blocks, direct);
    const batchBytes = options.batchBytes ?? defaultBatchBytes(set.dev);
    const depth = options.depth ?? defaultDrainDepth(set.dev, 0);
    const drain = (from: number) => new DrainJob(set.dev, from, { batchBytes, depth }).start();
    for (let warm = 0; warm < 2; warm++) await drain(warm % 2);
    const rates: number[] = [];
    const busyMs: number[] = [];
    const cpuMs: number[] = [];
    const io = directIoTotals();
    for (let round = 0; round < rounds; round++) {
      const loop = performance.eventLoopUtilization();
      const cpu = process.cpuUsage();
      const started = performance.now();
      await drain(round % 2);
      rates.push(mib / ((performance.now() - started) / 1000));
      busyMs.push(performance.eventLoopUtilization(loop).active);
      const used = process.cpuUsage(cpu);
      cpuMs.push((used.user + used.system) / 1000);
    }
    const inPlace = directIoTotals().zeroCopyRequests - io.zeroCopyRequests;
    const bounced = directIoTotals().bouncedRequests - io.bouncedRequests;
    await set.dev.close();
    const list = (values: number[]) => values.map((v) => v.toFixed(0)).join(" ");
    // Data requests in place, metadata (small, in unaligned memory) through bounce buffers.
    const copies = direct ? `; O_DIRECT requests ${inPlace} in place, ${bounced} bounced` : "";
    return {
      notes: [
        `drain only, ${dir} (${fsType(dir)}${direct ? ", O_DIRECT" : ""}), ${rounds} idle drains of ${mib.toFixed(0)} MiB ` +
          `(batches of ${batchBytes >> 10} KiB, ${depth} in flight): median ${median(rates).toFixed(0)} MiB/s, ` +
          `main thread busy ${median(busyMs).toFixed(0)} ms, CPU ${median(cpuMs).toFixed(0)} ms per drain; ` +
          `MiB/s ${list(rates)}; busy ms ${list(busyMs)}; CPU ms ${list(cpuMs)}${copies}`,
      ],
      raw: {
        drainMiBs: median(rates),
        busyMs: median(busyMs),
        cpuMs: median(cpuMs),
        zeroCopyRequests: inPlace,
        bouncedRequests: bounced,
      },
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const drainOnlyMode = process.argv[2] === "--drain-only";
  const args = process.argv.slice(drainOnlyMode ? 3 : 2);
  const at = (i: number) => Number(args[i] ?? NaN);
  const numbers = (blocks: number, batchBytes: number, depth: number): DrainBenchOptions => ({
    ...(Number.isFinite(blocks) ? { blocks } : {}),
    ...(Number.isFinite(batchBytes) ? { batchBytes } : {}),
    ...(Number.isFinite(depth) ? { depth } : {}),
  });
  if (drainOnlyMode) {
    // --drain-only [DIR] [ROUNDS] [BLOCKS] [BATCH_BYTES] [DEPTH]
    const rounds = Number.isFinite(at(1)) ? at(1) : 6;
    const result = await drainOnly(args[0] ?? "/dev/shm", rounds, numbers(at(2), at(3), at(4)));
    for (const line of result.notes) console.log(line);
  } else {
    const dirs = args[0] ? args[0].split(",") : DRAIN_BENCH_DIRS;
    const result = await spareDrainBench(dirs, numbers(at(1), at(2), at(3)));
    for (const line of result.notes) console.log(line);
  }
}
