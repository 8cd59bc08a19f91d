// `npm run bench`: nbdkit vs dmremap over fio's nbd engine on a 1 GiB tmpfs image (0 and 10,000
// remaps, 1 and 4 connections), the same on a disk, remap / target scale, the slow-range isolation
// check, and the micro-benchmarks; prints one table, saves JSON.
// Options: --runtime=S (per fio run, default 7), --rounds=N (default 2), --nbd-rounds=N (rounds of
//          the nbdkit comparison on tmpfs, default 4), --remap-rounds=N (extra alternations of the
//          0- and 10,000-remap servers alone for that ratio, default 2),
//          --only=nbd,disk,scale,slow,micro,scan,spares,replace (default all)
//          --workloads=seqread,seqwrite,randread,randwrite,randread4,randwrite4 (default all)
//          --profile (the 0-remap server runs under --cpu-prof; profiles land in bench/results/)
import { spawnSync } from "node:child_process";
import { cpus } from "node:os";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runDiskComparison } from "./disk-compare.js";
import { prepareImages, runComparison, WORKLOADS } from "./nbd-compare.js";
import { openBench } from "./open-bench.js";
import { remapLatencyBench } from "./remap-latency-bench.js";
import { renderTable, type ResultRow } from "./report.js";
import { checkSpace, checkTools } from "./setup.js";
import { runRemapScale, runTargetScale } from "./scale-bench.js";
import { runSlowDevice } from "./slow-device.js";
import { scanBench } from "./scan-bench.js";
import { spareDrainBench } from "./spare-drain-bench.js";
import { replaceMainBench } from "./replace-main-bench.js";

const MAIN_BYTES = 1 << 30;
const REMAPS = 10_000;
const RESULTS_DIR = fileURLToPath(new URL("../../bench/results/", import.meta.url));

function option(name: string, fallback: string): string {
  const hit = process.argv.find((a) => a.startsWith(`--${name}=`));
  return hit ? hit.slice(name.length + 3) : fallback;
}

function log(line: string): void {
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}

/** Machine facts printed with the results. */
function machine(tools: { fio: string; nbdkit: string }): Record<string, string | number> {
  return {
    cpu: cpus()[0]?.model ?? "unknown",
    nproc: cpus().length,
    node: process.version,
    nbdkit: tools.nbdkit,
    fio: tools.fio,
    kernel: spawnSync("uname", ["-r"], { encoding: "utf8" }).stdout.trim(),
  };
}

/** Run the table micro-benchmark (bench/table-bench.ts) in its own process and parse its lines. */
function tableBench(): Record<string, number> {
  const script = fileURLToPath(new URL("./table-bench.js", import.meta.url));
  const r = spawnSync(process.execPath, [script], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`table-bench failed: ${r.stderr}`);
  const out: Record<string, number> = {};
  for (const line of r.stdout.split("\n")) {
    const m = /^(.+?)\s{2,}([\d.]+) (ns\/op|bytes\/entry)$/.exec(line.trim());
    if (m) out[`${m[1]} (${m[3]})`] = Number(m[2]);
  }
  return out;
}

/**
 * Run a part whose failure must not lose the rest of the run: the failure is logged, listed in the
 * output and makes the exit code 1.
 */
async function guarded(name: string, lines: string[], run: () => Promise<void>): Promise<void> {
  try {
    await run();
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    log(`${name} benchmark FAILED: ${why}`);
    lines.push(`${name} benchmark FAILED: ${why}`);
    process.exitCode = 1;
  }
}

async function main(): Promise<void> {
  const runtimeS = Number(option("runtime", "7"));
  const rounds = Number(option("rounds", "2"));
  // The nbdkit cells take four alternations: with two, a slow stretch of a shared machine (about
  // 30 s, every server slows) over one server's runs moved a cell by 10 - 40 % (docs/PERFORMANCE.md).
  const nbdRounds = Number(option("nbd-rounds", "4"));
  const remapRounds = Number(option("remap-rounds", "2"));
  const only = new Set(option("only", "nbd,disk,scale,slow,micro,scan,spares,replace").split(","));
  const profile = process.argv.includes("--profile");
  const keys = option("workloads", WORKLOADS.map((w) => w.key).join(",")).split(",");
  const workloads = WORKLOADS.filter((w) => keys.includes(w.key));
  const tools = checkTools();
  const base = process.env.BENCH_DIR ?? "/dev/shm";
  await checkSpace(base, MAIN_BYTES + (512 << 20));
  const dir = join(base, `dmremap-bench-${process.pid}`);
  await mkdir(dir, { recursive: true });
  await mkdir(RESULTS_DIR, { recursive: true });
  const facts = machine(tools);
  log(`machine: ${JSON.stringify(facts)}`);
  const rows: ResultRow[] = [];
  const raw: Record<string, unknown> = {
    machine: facts,
    runtimeS,
    rounds,
    nbdRounds,
    remapRounds,
    startedAt: new Date().toISOString(),
  };
  const micro: string[] = [];
  try {
    if (only.has("nbd") || only.has("slow") || only.has("disk")) {
      log(`writing a ${MAIN_BYTES >> 20} MiB random image and creating sets in ${dir}`);
      const images = await prepareImages({ dir, mainBytes: MAIN_BYTES, remaps: REMAPS });
      if (only.has("nbd")) {
        const nodeFlags = profile ? ["--cpu-prof", `--cpu-prof-dir=${RESULTS_DIR}`] : undefined;
        const cmp = await runComparison(
          {
            dir,
            mainBytes: MAIN_BYTES,
            runtimeS,
            rounds: nbdRounds,
            remaps: REMAPS,
            remapRounds,
            workloads,
            log,
            ...(nodeFlags ? { nodeFlags } : {}),
          },
          images,
        );
        rows.push(...cmp.rows);
        raw["nbd"] = cmp.raw;
      }
      if (only.has("disk")) {
        const diskDir = process.env.BENCH_DISK_DIR ?? "/var/tmp";
        await checkSpace(diskDir, MAIN_BYTES + (128 << 20));
        const disk = await runDiskComparison({
          diskDir,
          sourceImage: images.main,
          mainBytes: MAIN_BYTES,
          runtimeS,
          rounds,
          workloads: WORKLOADS.filter((w) => ["seqread", "randread", "randwrite"].includes(w.key)),
          log,
        });
        rows.push(...disk.rows);
        raw["disk"] = disk.raw;
        micro.push(disk.note);
      }
      if (only.has("slow")) {
        const slow = await runSlowDevice(dir, images, MAIN_BYTES, runtimeS, log);
        rows.push(...slow.rows);
        raw["slow"] = slow.raw;
      }
    }
    if (only.has("scale")) {
      const scale = await runRemapScale({ dir, runtimeS, rounds, log });
      rows.push(...scale.rows);
      const targets = await runTargetScale({ dir, runtimeS, rounds, log });
      micro.push(...scale.notes, ...targets.notes);
      raw["scale"] = { remaps: scale.raw, targets: targets.raw };
    }
    if (only.has("micro")) {
      log("micro-benchmarks: remap table, open of a 1M-remap set, automatic remap latency");
      const table = tableBench();
      const open = await openBench(dir);
      const lat = await remapLatencyBench(dir);
      raw["micro"] = { table, open, remapLatency: lat };
      const get = (k: string) => table[k] ?? NaN;
      micro.push(
        `remap table, 1M entries: lookup hit ${get("lookup hit (ns/op)")} ns, miss ${get("lookup miss (ns/op)")} ns, ` +
          `insert ${get("insert (random order) (ns/op)")} ns/op, ${get("typed arrays (bytes/entry)")} bytes/entry (target < 1000 ns, <= 32 B)`,
        `remap check per request (firstInRange, 1 block), 0 / 10,000 / 1,000,000 entries: ` +
          `${get("firstInRange (1 block), 0 entries (ns/op)")} / ${get("firstInRange (1 block), 10000 entries (ns/op)")} / ` +
          `${get("firstInRange (1 block), 1000000 entries (ns/op)")} ns`,
        `open of a set with ${open.entries} remaps: ${Math.min(...open.openMs).toFixed(0)} ms best, ` +
          `${Math.max(...open.openMs).toFixed(0)} ms worst of ${open.openMs.length} (target < 2000 ms)`,
        `automatic remap, write error to ack (${lat.remaps} remaps, tmpfs): p50 ${lat.remapP50Us.toFixed(0)} µs, ` +
          `p99 ${lat.remapP99Us.toFixed(0)} µs, max ${lat.remapMaxUs.toFixed(0)} µs (target p99 < 10000 µs; ` +
          `plain write p50 ${lat.plainWriteP50Us.toFixed(0)} µs)`,
      );
    }
    if (only.has("scan")) {
      await guarded("scan", micro, async () => {
        micro.push(...(await scanBench(dir, runtimeS, log, raw)));
      });
    }
    if (only.has("spares")) {
      await guarded("spares", micro, async () => {
        log("spare pool: drain copy speed against dd");
        const disk = process.env.BENCH_DISK_DIR ?? "/var/tmp";
        const drain = await spareDrainBench([base, disk, `direct:${disk}`]);
        micro.push(...drain.notes);
        raw["spares"] = drain.raw;
      });
    }
    if (only.has("replace")) {
      await guarded("replace", micro, async () => {
        log("replace-main: copy speed against dd");
        const replaced = await replaceMainBench(dir);
        micro.push(...replaced.notes);
        raw["replace"] = replaced.raw;
        // On a disk too (and O_DIRECT there), where users replace a main.
        const onDisk = await replaceMainBench(process.env.BENCH_DISK_DIR ?? "/var/tmp");
        micro.push(...onDisk.notes);
        raw["replaceDisk"] = onDisk.raw;
      });
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const file = join(RESULTS_DIR, `bench-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
  await writeFile(file, JSON.stringify({ ...raw, rows, micro }, null, 1) + "\n");
  console.log(
    `\ndmremap benchmark: ${facts.cpu}, ${facts.nproc} CPUs, node ${facts.node}, ${facts.nbdkit}, ${runtimeS} s runs, ${nbdRounds} rounds per nbdkit cell on tmpfs (+${remapRounds} remap rounds), ${rounds} per other cell\n`,
  );
  if (rows.length > 0) console.log(renderTable(rows) + "\n");
  for (const line of micro) console.log(`- ${line}`);
  console.log(`\nraw results: ${file}`);
}

await main();
