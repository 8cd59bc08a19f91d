// nbdkit vs dmremap on an image on a real disk (not tmpfs), with the page cache dropped before every
// run on both servers, so reads reach the disk: where users run it. Same fio workloads as on tmpfs.
import { spawnSync } from "node:child_process";
import { copyFile, mkdir, rm, statfs, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { measure, type Measured } from "./measure.js";
import type { Workload } from "./nbd-compare.js";
import { meanRow, ratioText, type ResultRow } from "./report.js";
import { createSet, createSparse } from "./setup.js";
import { startDmremap, startNbdkit, type BenchServer } from "./servers.js";

/** statfs f_type of tmpfs and ramfs: not a disk. */
const MEMORY_FS_TYPES = [0x01021994, 0x858458f6];

/** Settings of the on-disk comparison. */
export interface DiskCompareOptions {
  /** Directory on a disk filesystem (BENCH_DISK_DIR, default /var/tmp). */
  readonly diskDir: string;
  /** The random main image (on tmpfs) to copy onto the disk. */
  readonly sourceImage: string;
  readonly mainBytes: number;
  readonly runtimeS: number;
  readonly rounds: number;
  readonly workloads: readonly Workload[];
  readonly log: (line: string) => void;
  /** More dmremap servers on the same image, each with its own spare and environment (disk-ab.ts). */
  readonly variants?: readonly { readonly label: string; readonly env: Record<string, string> }[];
}

/** Drop clean page-cache pages (root only); false when not permitted. */
export async function dropCaches(): Promise<boolean> {
  spawnSync("sync");
  try {
    await writeFile("/proc/sys/vm/drop_caches", "3\n");
    return true;
  } catch {
    return false;
  }
}

/** Run the workloads on both servers over a copy of the image on `diskDir`; rows say "disk". */
export async function runDiskComparison(
  o: DiskCompareOptions,
): Promise<{ rows: ResultRow[]; raw: unknown; note: string }> {
  const st = await statfs(o.diskDir);
  if (MEMORY_FS_TYPES.includes(Number(st.type))) {
    return {
      rows: [],
      raw: {},
      note: `${o.diskDir} is tmpfs: on-disk comparison skipped (set BENCH_DISK_DIR)`,
    };
  }
  const dir = join(o.diskDir, `dmremap-bench-disk-${process.pid}`);
  await mkdir(dir, { recursive: true });
  const servers: BenchServer[] = [];
  const raw: Record<string, Record<string, Measured[]>> = {};
  let dropped = true;
  try {
    const main = join(dir, "main.img");
    const spare = join(dir, "spare.img");
    await copyFile(o.sourceImage, main);
    await createSparse(spare, 64 << 20);
    createSet(main, spare);
    servers.push(await startNbdkit(main, join(dir, "nbdkit.sock")));
    servers.push(
      await startDmremap({
        label: "dmremap",
        main,
        spare,
        socket: join(dir, "dm.sock"),
        apiSocket: join(dir, "dm.api"),
      }),
    );
    for (const v of o.variants ?? []) {
      const vSpare = join(dir, `spare-${servers.length}.img`);
      await createSparse(vSpare, 64 << 20);
      createSet(main, vSpare);
      servers.push(
        await startDmremap({
          label: v.label,
          main,
          spare: vSpare,
          socket: join(dir, `dm${servers.length}.sock`),
          apiSocket: join(dir, `dm${servers.length}.api`),
          env: v.env,
        }),
      );
    }
    for (let round = 0; round < o.rounds; round++) {
      for (const w of o.workloads) {
        const order = round % 2 === 1 ? [...servers].reverse() : servers;
        for (const server of order) {
          dropped = (await dropCaches()) && dropped;
          const spec = { name: w.key, sizeBytes: o.mainBytes, ...w.job };
          const { result } = await measure(server, spec, o.runtimeS, join(dir, "fio.json"));
          ((raw[w.key] ??= {})[server.label] ??= []).push(result);
          o.log(
            `disk round ${round + 1} ${w.label} ${server.label}: ${result.mbPerS.toFixed(1)} MB/s ` +
              `${result.iops.toFixed(0)} IOPS server CPU ${result.cpuUsPerIo.toFixed(1)} µs/IO`,
          );
        }
      }
    }
  } finally {
    for (const s of servers.reverse()) await s.stop();
    await rm(dir, { recursive: true, force: true });
  }
  const rows: ResultRow[] = [];
  for (const w of o.workloads) {
    const label = `disk: ${w.label}`;
    const kit = meanRow(label, "nbdkit", raw[w.key]!["nbdkit"]!);
    const dm = meanRow(label, "dmremap", raw[w.key]!["dmremap"]!);
    rows.push(kit, { ...dm, ratio: ratioText(dm.mbPerS, kit.mbPerS, "nbdkit") });
    for (const v of o.variants ?? []) {
      const r = meanRow(label, v.label, raw[w.key]![v.label]!);
      rows.push({ ...r, ratio: ratioText(r.mbPerS, kit.mbPerS, "nbdkit") });
    }
  }
  const note = dropped
    ? `on-disk image in ${o.diskDir}: page cache dropped before every run (both servers)`
    : `on-disk image in ${o.diskDir}: page cache NOT dropped (not root), reads may come from memory`;
  return { rows, raw, note };
}
