// The on-disk comparison (disk-compare.ts, page cache dropped before every run) with extra dmremap
// servers that differ only in their environment, e.g. libuv's threadpool size or the I/O engine.
// Run: node dist/bench/disk-ab.js [--runtime=S] [--rounds=N] [--workloads=randread,...]
//      [--variant=LABEL:NAME=VALUE,NAME=VALUE ...]   (default: pool4 and pool16 and worker)
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { runDiskComparison } from "./disk-compare.js";
import { WORKLOADS } from "./nbd-compare.js";
import { renderTable } from "./report.js";
import { writeRandomImage } from "./setup.js";

function option(name: string, fallback: string): string {
  const hit = process.argv.find((a) => a.startsWith(`--${name}=`));
  return hit ? hit.slice(name.length + 3) : fallback;
}

function variants(): { label: string; env: Record<string, string> }[] {
  const given = process.argv.filter((a) => a.startsWith("--variant=")).map((a) => a.slice(10));
  const specs = given.length > 0 ? given : ["pool4:UV_THREADPOOL_SIZE=4", "worker:DMREMAP_IO_ENGINE=worker"];
  return specs.map((spec) => {
    const [label, vars = ""] = spec.split(":", 2) as [string, string?];
    const env = Object.fromEntries(
      vars
        .split(",")
        .filter(Boolean)
        .map((p) => p.split("=", 2) as [string, string]),
    );
    return { label: `dmremap ${label}`, env };
  });
}

const keys = option("workloads", "randread,randwrite").split(",");
const tmp = join(process.env.BENCH_DIR ?? "/dev/shm", `dmremap-disk-ab-${process.pid}`);
await mkdir(tmp, { recursive: true });
try {
  const sourceImage = join(tmp, "main.img");
  await writeRandomImage(sourceImage, 1 << 30);
  const { rows, note } = await runDiskComparison({
    diskDir: process.env.BENCH_DISK_DIR ?? "/var/tmp",
    sourceImage,
    mainBytes: 1 << 30,
    runtimeS: Number(option("runtime", "7")),
    rounds: Number(option("rounds", "2")),
    workloads: WORKLOADS.filter((w) => keys.includes(w.key)),
    log: (line) => process.stderr.write(`${line}\n`),
    variants: variants(),
  });
  console.log(renderTable(rows));
  console.log(`\n- ${note}`);
} finally {
  await rm(tmp, { recursive: true, force: true });
}
