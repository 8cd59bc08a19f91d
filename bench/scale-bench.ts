// Cost that must stay flat: random I/O with 0 / 10,000 / 1,000,000 remaps on one sparse main (sets
// built offline through the metadata API), and a daemon serving 1 vs 8 targets (RSS per target).
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { FileDevice } from "../src/block/file-device.js";
import { createSet } from "../src/metadata/create-set.js";
import type { JournalRecord } from "../src/metadata/metadata-store.js";
import type { FioJobSpec } from "./fio-job.js";
import { measure, mib, type Measured } from "./measure.js";
import { meanRow, ratioText, type ResultRow } from "./report.js";
import { rssBytes, startDmremap, startDmremapConfig, type BenchServer } from "./servers.js";

const BLOCK = 4096;
/**
 * Sparse main of the remap-scale sets: 1 TiB (2^28 blocks), so 1,000,000 remaps are 1 block in 268
 * (0.4 %) and 10,000 are 1 in 26,844: the lookup cost is measured, not the remapped-block path.
 */
const SCALE_MAIN_BYTES = 2 ** 40;
/** fio touches the first 2 GiB only (written pages of a sparse tmpfs file cost memory). */
const FIO_BYTES = 2 ** 31;
export const REMAP_COUNTS = [0, 10_000, 1_000_000] as const;
const TARGETS = 8;

/** Settings of the scale benchmarks. */
export interface ScaleOptions {
  readonly dir: string;
  readonly runtimeS: number;
  readonly rounds: number;
  readonly log: (line: string) => void;
}

/** A set on `mainPath` with `remaps` remaps spread over main, written through the metadata API. */
async function buildRemappedSet(mainPath: string, sparePath: string, remaps: number): Promise<void> {
  const main = await FileDevice.open(mainPath);
  const spare = await FileDevice.create(
    sparePath,
    (64 << 20) + Math.ceil(remaps * 1.05) * BLOCK + (256 << 20),
  );
  try {
    const created = await createSet({ main, spares: [spare], blockSize: BLOCK, name: "dmremap" });
    const stride = SCALE_MAIN_BYTES / BLOCK / Math.max(1, remaps);
    const snapshot = { blocks: new Float64Array(0), slots: new Uint32Array(0), pending: new Float64Array(0) };
    for (let i = 0; i < remaps; i += 4096) {
      const batch: JournalRecord[] = [];
      for (let j = i; j < Math.min(remaps, i + 4096); j++) {
        // Slots in a scrambled order (7919 is coprime with any count below 10^9 that is not its multiple).
        batch.push({
          type: "remap",
          block: Math.floor(j * stride + stride / 2),
          slot: (j * 7919) % remaps,
          reason: "manual",
        });
      }
      await created.store.append(batch);
      if (created.store.wantsCheckpoint)
        await created.store.checkpoint({ ...snapshot, lost: new Map(), counters: {} });
    }
    await created.store.checkpoint({ ...snapshot, lost: new Map(), counters: {} });
    await created.store.close();
  } finally {
    await main.close();
    await spare.close();
  }
}

/** Random read / write with 0, 10,000 and 1,000,000 remaps; ratios against 0 remaps; RSS per remap. */
export async function runRemapScale(
  o: ScaleOptions,
): Promise<{ rows: ResultRow[]; notes: string[]; raw: unknown }> {
  const dir = join(o.dir, "scale");
  await mkdir(dir, { recursive: true });
  const mainPath = join(dir, "main.img");
  await FileDevice.create(mainPath, SCALE_MAIN_BYTES).then((d) => d.close());
  const servers: BenchServer[] = [];
  const idleRss: number[] = [];
  const raw: Record<string, Record<string, Measured[]>> = {};
  try {
    for (const n of REMAP_COUNTS) {
      const t0 = Date.now();
      await buildRemappedSet(mainPath, join(dir, `spare-${n}.img`), n);
      o.log(`scale: set with ${n} remaps built in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      const server = await startDmremap({
        label: `dmremap ${n} remaps`,
        main: mainPath,
        spare: join(dir, `spare-${n}.img`),
        socket: join(dir, `dm-${n}.sock`),
        apiSocket: join(dir, `dm-${n}.api`),
      });
      servers.push(server);
      idleRss.push(rssBytes(server.child.pid!));
    }
    const jobs: FioJobSpec[] = [
      { name: "randread", rw: "randread", blockBytes: BLOCK, iodepth: 32, sizeBytes: FIO_BYTES },
      { name: "randwrite", rw: "randwrite", blockBytes: BLOCK, iodepth: 32, sizeBytes: FIO_BYTES },
    ];
    for (let round = 0; round < o.rounds; round++) {
      for (const job of jobs) {
        const order = round % 2 === 1 ? [...servers].reverse() : servers;
        for (const server of order) {
          const { result } = await measure(server, job, o.runtimeS, join(dir, "fio.json"));
          ((raw[job.name] ??= {})[server.label] ??= []).push(result);
          o.log(
            `scale round ${round + 1} ${job.name} ${server.label}: ${result.iops.toFixed(0)} IOPS ` +
              `server CPU ${result.cpuUsPerIo.toFixed(1)} µs/IO, RSS ${mib(result.rssBytes)}`,
          );
        }
      }
    }
  } finally {
    for (const s of servers.reverse()) await s.stop();
    await rm(dir, { recursive: true, force: true });
  }
  const rows: ResultRow[] = [];
  for (const job of ["randread", "randwrite"]) {
    const label = `${job === "randread" ? "rand read" : "rand write"} 4 KiB qd32, 2 GiB of a 1 TiB main`;
    const per = raw[job]!;
    const base = meanRow(label, `dmremap ${REMAP_COUNTS[0]} remaps`, per[`dmremap 0 remaps`]!);
    rows.push(base);
    for (const n of REMAP_COUNTS.slice(1)) {
      const r = meanRow(label, `dmremap ${n} remaps`, per[`dmremap ${n} remaps`]!);
      rows.push({ ...r, ratio: ratioText(r.mbPerS, base.mbPerS, "0 remaps") });
    }
  }
  const [r0, r10k, r1m] = idleRss as [number, number, number];
  const notes = [
    `RSS after open, idle: 0 remaps ${mib(r0)}, 10,000 remaps ${mib(r10k)}, 1,000,000 remaps ${mib(r1m)}; ` +
      `memory per remap ${((r1m - r0) / 1_000_000).toFixed(1)} bytes (1M vs 0)`,
  ];
  return { rows, notes, raw: { idleRss, runs: raw } };
}

/** TOML of a daemon serving `count` targets on sparse files under `dir`. */
function targetsConfig(dir: string, count: number): string {
  const lines = [
    "[daemon]",
    `data_dir = "${dir}"`,
    'log_level = "info"',
    "[api]",
    `listen = "unix:${join(dir, "api.sock")}"`,
    "[nbd]",
    `listen = ["unix:${join(dir, "nbd.sock")}"]`,
  ];
  for (let i = 0; i < count; i++) {
    lines.push(
      "[[target]]",
      `name = "t${i}"`,
      `export = "t${i}"`,
      `main = "${join(dir, `main${i}.img`)}"`,
      `spares = ["${join(dir, `spare${i}.img`)}"]`,
      "block_size = 4096",
      "create = true",
    );
  }
  return lines.join("\n") + "\n";
}

/** RSS of one daemon with 1 target and with 8 (idle, then after random reads on the first target). */
export async function runTargetScale(o: ScaleOptions): Promise<{ notes: string[]; raw: unknown }> {
  const rss: Record<number, { idle: number; busy: number; iops: number }> = {};
  for (const count of [1, TARGETS]) {
    const dir = join(o.dir, `targets-${count}`);
    await mkdir(dir, { recursive: true });
    let server: BenchServer | undefined;
    try {
      for (let i = 0; i < count; i++) {
        await FileDevice.create(join(dir, `main${i}.img`), 1 << 30).then((d) => d.close());
        await FileDevice.create(join(dir, `spare${i}.img`), 64 << 20).then((d) => d.close());
      }
      const config = join(dir, "dmremap.toml");
      await writeFile(config, targetsConfig(dir, count));
      server = await startDmremapConfig(
        { label: `dmremap ${count} targets`, apiSocket: join(dir, "api.sock") },
        config,
        `nbd+unix:///t0?socket=${join(dir, "nbd.sock")}`,
      );
      const idle = rssBytes(server.child.pid!);
      const job: FioJobSpec = {
        name: "randread",
        rw: "randread",
        blockBytes: BLOCK,
        iodepth: 32,
        sizeBytes: 1 << 30,
      };
      const { result } = await measure(server, job, Math.min(5, o.runtimeS), join(dir, "fio.json"));
      rss[count] = { idle, busy: result.rssBytes, iops: result.iops };
      o.log(`targets: ${count}: RSS idle ${mib(idle)}, after random reads ${mib(result.rssBytes)}`);
    } finally {
      await server?.stop();
      await rm(dir, { recursive: true, force: true });
    }
  }
  const one = rss[1]!;
  const eight = rss[TARGETS]!;
  return {
    notes: [
      `daemon RSS, 1 target: ${mib(one.idle)} idle, ${mib(one.busy)} after random reads; ` +
        `${TARGETS} targets: ${mib(eight.idle)} idle, ${mib(eight.busy)} after random reads on one; ` +
        `memory per extra target ${mib((eight.idle - one.idle) / (TARGETS - 1))} (idle)`,
    ],
    raw: rss,
  };
}
