// The NBD comparison: nbdkit's file plugin vs dmremap (0 remaps) vs dmremap (N remaps) on the same
// tmpfs image, fio's nbd engine, servers alternating within each round.
import { join } from "node:path";
import type { FioJobSpec } from "./fio-job.js";
import { measure, type Measured } from "./measure.js";
import { meanRow, ratioText, type ResultRow } from "./report.js";
import { createSet, createSparse, remapViaApi, spreadBlocks, writeRandomImage } from "./setup.js";
import { startDmremap, startNbdkit, type BenchServer } from "./servers.js";

export { RAMP_S } from "./measure.js";

/** A fio workload of the comparison. */
export interface Workload {
  readonly key: string;
  readonly label: string;
  readonly job: Omit<FioJobSpec, "name" | "sizeBytes">;
  /** Also run against the set with remaps. */
  readonly withRemaps: boolean;
}

/** The four workloads of the issue, and random read / write over 4 connections (multi-conn). */
export const WORKLOADS: readonly Workload[] = [
  {
    key: "seqread",
    label: "seq read 1 MiB qd8",
    job: { rw: "read", blockBytes: 1 << 20, iodepth: 8 },
    withRemaps: false,
  },
  {
    key: "seqwrite",
    label: "seq write 1 MiB qd8",
    job: { rw: "write", blockBytes: 1 << 20, iodepth: 8 },
    withRemaps: false,
  },
  {
    key: "randread",
    label: "rand read 4 KiB qd32",
    job: { rw: "randread", blockBytes: 4096, iodepth: 32 },
    withRemaps: true,
  },
  {
    key: "randwrite",
    label: "rand write 4 KiB qd32",
    job: { rw: "randwrite", blockBytes: 4096, iodepth: 32 },
    withRemaps: true,
  },
  {
    key: "randread4",
    label: "rand read 4 KiB qd32 x4 conns",
    job: { rw: "randread", blockBytes: 4096, iodepth: 32, numjobs: 4 },
    withRemaps: false,
  },
  {
    key: "randwrite4",
    label: "rand write 4 KiB qd32 x4 conns",
    job: { rw: "randwrite", blockBytes: 4096, iodepth: 32, numjobs: 4 },
    withRemaps: false,
  },
];

/** Settings of a comparison run. */
export interface CompareOptions {
  readonly dir: string;
  readonly mainBytes: number;
  readonly runtimeS: number;
  readonly rounds: number;
  readonly remaps: number;
  /**
   * Extra alternations of the 0-remap and the N-remap server alone (no nbdkit) for the workloads
   * with remaps: that ratio's target is 3 %, within the run-to-run swing of one 7 s run on a
   * shared machine (a first round 10-20 % slow for every server was seen), so it gets more samples.
   */
  readonly remapRounds?: number;
  readonly workloads: readonly Workload[];
  /** Extra node flags for the 0-remap dmremap server (e.g. --cpu-prof). */
  readonly nodeFlags?: readonly string[];
  readonly log: (line: string) => void;
}

/** Paths of the images of a run. */
export interface BenchImages {
  readonly main: string;
  readonly spare0: string;
  readonly spareRemapped: string;
  readonly spareSlow: string;
}

/** Write the random main image and create the three sets on it. */
export async function prepareImages(
  o: Pick<CompareOptions, "dir" | "mainBytes" | "remaps">,
): Promise<BenchImages> {
  const images: BenchImages = {
    main: join(o.dir, "main.img"),
    spare0: join(o.dir, "spare0.img"),
    spareRemapped: join(o.dir, "spare-remapped.img"),
    spareSlow: join(o.dir, "spare-slow.img"),
  };
  await writeRandomImage(images.main, o.mainBytes);
  await createSparse(images.spare0, 64 << 20);
  await createSparse(images.spareRemapped, 64 * 2 ** 20 + o.remaps * 4096 * 1.1);
  await createSparse(images.spareSlow, 64 << 20);
  for (const spare of [images.spare0, images.spareRemapped, images.spareSlow]) createSet(images.main, spare);
  return images;
}

/** Raw per-round results, keyed workload -> server label -> rounds. */
export type RawResults = Record<string, Record<string, { result: Measured; fio: unknown }[]>>;

/** Run every workload `rounds` times on each server, alternating; returns table rows and raw results. */
export async function runComparison(
  o: CompareOptions,
  images: BenchImages,
): Promise<{ rows: ResultRow[]; raw: RawResults }> {
  const servers: BenchServer[] = [];
  const raw: RawResults = {};
  try {
    const kit = await startNbdkit(images.main, join(o.dir, "nbdkit.sock"));
    servers.push(kit);
    const dm0 = await startDmremap({
      label: "dmremap",
      main: images.main,
      spare: images.spare0,
      socket: join(o.dir, "dm0.sock"),
      apiSocket: join(o.dir, "dm0.api"),
      ...(o.nodeFlags ? { nodeFlags: o.nodeFlags } : {}),
    });
    servers.push(dm0);
    const dmR = await startDmremap({
      label: `dmremap ${o.remaps} remaps`,
      main: images.main,
      spare: images.spareRemapped,
      socket: join(o.dir, "dmR.sock"),
      apiSocket: join(o.dir, "dmR.api"),
    });
    servers.push(dmR);
    /** One measured fio run of `w` on `server`, kept under `key` of the workload's raw results. */
    const run = async (round: string, w: Workload, server: BenchServer, key: string): Promise<void> => {
      const spec: FioJobSpec = { name: w.key, sizeBytes: o.mainBytes, ...w.job };
      const { result, fio } = await measure(server, spec, o.runtimeS, join(o.dir, "fio.json"));
      ((raw[w.key] ??= {})[key] ??= []).push({ result, fio });
      o.log(
        `${round} ${w.label} ${server.label}: ${result.mbPerS.toFixed(1)} MB/s ` +
          `${result.iops.toFixed(0)} IOPS p50 ${result.p50Us.toFixed(0)} µs p99 ${result.p99Us.toFixed(0)} µs ` +
          `server CPU ${result.cpuUsPerIo.toFixed(1)} µs/IO`,
      );
    };
    const t0 = Date.now();
    await remapViaApi(dmR.apiSocket!, "dmremap", spreadBlocks(o.remaps, o.mainBytes / 4096));
    o.log(`remapped ${o.remaps} blocks through the API in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    for (let round = 0; round < o.rounds; round++) {
      for (const w of o.workloads) {
        const order = w.withRemaps ? [kit, dm0, dmR] : [kit, dm0];
        if (round % 2 === 1) order.reverse();
        for (const server of order) await run(`round ${round + 1}`, w, server, server.label);
      }
    }
    // More samples of the "N remaps vs 0" ratio: the two dmremap servers alone, alternating. Kept
    // under their own keys, so the nbdkit comparison uses the rounds that measured nbdkit too.
    for (let round = 0; round < (o.remapRounds ?? 0); round++) {
      for (const w of o.workloads.filter((x) => x.withRemaps)) {
        const order = round % 2 === 0 ? [dmR, dm0] : [dm0, dmR];
        for (const server of order)
          await run(`remap round ${round + 1}`, w, server, `${server.label} (remap round)`);
      }
    }
    return { rows: tableRows(o, raw, dmR.label), raw };
  } finally {
    for (const s of servers.reverse()) await s.stop();
  }
}

function tableRows(o: CompareOptions, raw: RawResults, remappedLabel: string): ResultRow[] {
  const rows: ResultRow[] = [];
  for (const w of o.workloads) {
    const per = raw[w.key]!;
    const kit = meanRow(
      w.label,
      "nbdkit",
      per["nbdkit"]!.map((r) => r.result),
    );
    const dm = meanRow(
      w.label,
      "dmremap",
      per["dmremap"]!.map((r) => r.result),
    );
    rows.push(kit, { ...dm, ratio: ratioText(dm.mbPerS, kit.mbPerS, "nbdkit") });
    if (w.withRemaps) {
      // Every run of each of the two servers: the rounds with nbdkit and the remap rounds.
      const all = (label: string) =>
        [...per[label]!, ...(per[`${label} (remap round)`] ?? [])].map((r) => r.result);
      const rm = meanRow(w.label, remappedLabel, all(remappedLabel));
      const zero = meanRow(w.label, "dmremap", all("dmremap"));
      const runs = all(remappedLabel).length;
      // The 0-remap row above is the rounds with nbdkit only: name the reference this ratio uses.
      const against = `0 remaps (${runs} runs each; 0 remaps ${zero.mbPerS.toFixed(1)} MB/s)`;
      rows.push({ ...rm, ratio: ratioText(rm.mbPerS, zero.mbPerS, against) });
    }
  }
  return rows;
}
