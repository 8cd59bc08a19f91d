// "A slow device must not stall the rest": main's first MiB answers reads after 200 ms (delay
// fault rule); random reads elsewhere run alone, then next to a job hammering the slow range.
import { join } from "node:path";
import { runFio, type FioJobSpec } from "./fio-job.js";
import { ratioText, type ResultRow } from "./report.js";
import { startDmremap } from "./servers.js";
import { RAMP_S, type BenchImages } from "./nbd-compare.js";

/** Size of the slow range at the start of main. */
export const SLOW_RANGE_BYTES = 1 << 20;

/** Run the slow-range experiment; rows: other blocks alone, other blocks with the slow job, the slow job. */
export async function runSlowDevice(
  dir: string,
  images: BenchImages,
  mainBytes: number,
  runtimeS: number,
  log: (line: string) => void,
): Promise<{ rows: ResultRow[]; raw: unknown[] }> {
  const server = await startDmremap({
    label: "dmremap slow range",
    main: `delay:read=200ms,range=0+${SLOW_RANGE_BYTES}:${images.main}`,
    spare: images.spareSlow,
    socket: join(dir, "slow.sock"),
    apiSocket: join(dir, "slow.api"),
  });
  try {
    const fast: FioJobSpec = {
      name: "other-blocks",
      rw: "randread",
      blockBytes: 4096,
      iodepth: 16,
      offsetBytes: SLOW_RANGE_BYTES,
      sizeBytes: mainBytes - SLOW_RANGE_BYTES,
    };
    const slow: FioJobSpec = {
      name: "slow-range",
      rw: "randread",
      blockBytes: 4096,
      iodepth: 8,
      offsetBytes: 0,
      sizeBytes: SLOW_RANGE_BYTES,
    };
    const alone = await runFio(server.uri, [fast], runtimeS, join(dir, "fio.json"), RAMP_S);
    const mixed = await runFio(server.uri, [fast, slow], runtimeS, join(dir, "fio.json"), RAMP_S);
    const base = alone.jobs[0]!;
    const other = mixed.jobs.find((j) => j.name === "other-blocks")!;
    const hammer = mixed.jobs.find((j) => j.name === "slow-range")!;
    log(
      `slow device: other blocks p99 ${base.p99Us.toFixed(0)} µs alone, ${other.p99Us.toFixed(0)} µs beside the slow job`,
    );
    const label = "rand read 4 KiB qd16, fast blocks";
    return {
      rows: [
        { workload: label, server: "dmremap, slow range idle", ...pick(base) },
        {
          workload: label,
          server: "dmremap, slow range hammered",
          ...pick(other),
          ratio: `p99 ${ratioText(other.p99Us, base.p99Us, "idle")}`,
        },
        { workload: "rand read 4 KiB qd8, 200 ms range", server: "dmremap, slow job", ...pick(hammer) },
      ],
      raw: [alone.raw, mixed.raw],
    };
  } finally {
    await server.stop();
  }
}

function pick(r: { mbPerS: number; iops: number; p50Us: number; p99Us: number }) {
  return { mbPerS: r.mbPerS, iops: r.iops, p50Us: r.p50Us, p99Us: r.p99Us };
}
