// Before / after: nbdkit, `dmremap serve` of another build (--base=PATH/dist/src/cli/main.js) and of
// this build, on the same tmpfs image, alternating like the main comparison. Not part of `npm run bench`.
// Run: node dist/bench/ab-compare.js --base=/tmp/old/dist/src/cli/main.js [--runtime=S] [--rounds=N]
//      [--workloads=randread,randwrite,...]
import { spawnSync } from "node:child_process";
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { measure, type Measured } from "./measure.js";
import { WORKLOADS } from "./nbd-compare.js";
import { meanRow, ratioText, renderTable, type ResultRow } from "./report.js";
import { createSparse, writeRandomImage } from "./setup.js";
import { startDmremap, startNbdkit, type BenchServer } from "./servers.js";

function option(name: string, fallback: string): string {
  const hit = process.argv.find((a) => a.startsWith(`--${name}=`));
  return hit ? hit.slice(name.length + 3) : fallback;
}

/** `dmremap create` with the given build's CLI (each build formats its own spare). */
function createWith(cli: string, main: string, spare: string): void {
  const r = spawnSync(process.execPath, [cli, "create", "--main", main, "--spare", spare, "--force"], {
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`${cli} create failed: ${r.stderr || r.stdout}`);
}

async function main(): Promise<void> {
  const base = option("base", "");
  if (!base) throw new Error("--base=PATH/dist/src/cli/main.js (the build to compare with) is required");
  const runtimeS = Number(option("runtime", "7"));
  const rounds = Number(option("rounds", "2"));
  const keys = option("workloads", WORKLOADS.map((w) => w.key).join(",")).split(",");
  const dir = join(process.env.BENCH_DIR ?? "/dev/shm", `dmremap-ab-${process.pid}`);
  await mkdir(dir, { recursive: true });
  const servers: BenchServer[] = [];
  const raw: Record<string, Record<string, Measured[]>> = {};
  try {
    const mainImg = join(dir, "main.img");
    await writeRandomImage(mainImg, 1 << 30);
    await createSparse(join(dir, "spare-base.img"), 64 << 20);
    await createSparse(join(dir, "spare-new.img"), 64 << 20);
    createWith(base, mainImg, join(dir, "spare-base.img"));
    const self = new URL("../src/cli/main.js", import.meta.url).pathname;
    createWith(self, mainImg, join(dir, "spare-new.img"));
    servers.push(await startNbdkit(mainImg, join(dir, "kit.sock")));
    for (const [label, cli, spare] of [
      ["dmremap before", base, "spare-base.img"],
      ["dmremap after", self, "spare-new.img"],
    ] as const) {
      const sock = join(dir, `${spare}.sock`);
      servers.push(
        await startDmremap({
          label,
          cli,
          main: mainImg,
          spare: join(dir, spare),
          socket: sock,
          apiSocket: `${sock}.api`,
        }),
      );
    }
    for (let round = 0; round < rounds; round++) {
      for (const w of WORKLOADS.filter((x) => keys.includes(x.key))) {
        for (const server of round % 2 === 1 ? [...servers].reverse() : servers) {
          const { result } = await measure(
            server,
            { name: w.key, sizeBytes: 1 << 30, ...w.job },
            runtimeS,
            join(dir, "fio.json"),
          );
          ((raw[w.label] ??= {})[server.label] ??= []).push(result);
          process.stderr.write(
            `${w.label} ${server.label}: ${result.mbPerS.toFixed(1)} MB/s, ${result.cpuUsPerIo.toFixed(1)} CPU µs/IO\n`,
          );
        }
      }
    }
  } finally {
    for (const s of servers.reverse()) await s.stop();
    await rm(dir, { recursive: true, force: true });
  }
  const rows: ResultRow[] = [];
  for (const [label, per] of Object.entries(raw)) {
    const kit = meanRow(label, "nbdkit", per["nbdkit"]!);
    rows.push(kit);
    for (const s of ["dmremap before", "dmremap after"]) {
      const r = meanRow(label, s, per[s]!);
      rows.push({ ...r, ratio: ratioText(r.mbPerS, kit.mbPerS, "nbdkit") });
    }
  }
  console.log(renderTable(rows));
}

await main();
