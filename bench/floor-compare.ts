// The runtime floor: nbdkit's file plugin, the measurement-only floor server (bench/floor-server.ts)
// in its reply variants, and `dmremap serve` (this build, and another with --base), on one tmpfs
// image, fio's nbd engine, servers alternating (order reversed every other round). Prints the range
// over rounds of CPU µs per request and MB/s of each server, then the mean table. Not part of
// `npm run bench`.
// Run: node dist/bench/floor-compare.js [--runtime=5] [--rounds=3] [--workloads=randread,randwrite]
//      [--floors=cork,slab,handle] [--base=/tmp/old/dist/src/cli/main.js]
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { measure, type Measured } from "./measure.js";
import { WORKLOADS } from "./nbd-compare.js";
import { meanRow, ratioText, renderTable, type ResultRow } from "./report.js";
import { createSparse, writeRandomImage } from "./setup.js";
import { CLI, startDmremap, startNbdkit, type BenchServer } from "./servers.js";

const FLOOR = fileURLToPath(new URL("./floor-server.js", import.meta.url));

function option(name: string, fallback: string): string {
  const hit = process.argv.find((a) => a.startsWith(`--${name}=`));
  return hit ? hit.slice(name.length + 3) : fallback;
}

/** The floor server with reply variant `reply` (and receive variant `recv`) on `file`. */
async function startFloor(file: string, socket: string, reply: string, recv: string): Promise<BenchServer> {
  const child: ChildProcess = spawn(process.execPath, [FLOOR, file, socket], {
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, FLOOR_REPLY: reply, FLOOR_RECV: recv },
  });
  await new Promise<void>((resolve, reject) => {
    let log = "";
    child.stderr!.on("data", (d: Buffer) => {
      log += d.toString();
      if (log.includes("ready")) resolve();
    });
    child.once("exit", (code) => reject(new Error(`floor server exited ${code}: ${log.trim()}`)));
  });
  child.stderr!.resume();
  const label = `floor ${reply}${recv === "onread" ? "" : ` ${recv}`}`;
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once("exit", () => resolve());
      child.kill("SIGTERM");
    });
  return { label, uri: `nbd+unix:///?socket=${socket}`, child, stop };
}

/** `dmremap create` with the given build's CLI. */
function createWith(cli: string, main: string, spare: string): void {
  const r = spawnSync(process.execPath, [cli, "create", "--main", main, "--spare", spare, "--force"], {
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`${cli} create failed: ${r.stderr || r.stdout}`);
}

async function startServe(dir: string, main: string, label: string, cli: string): Promise<BenchServer> {
  const name = label.replace(/[^A-Za-z0-9]+/g, "-");
  const spare = join(dir, `spare-${name}.img`);
  await createSparse(spare, 64 << 20);
  createWith(cli, main, spare);
  const socket = join(dir, `${name}.sock`);
  return startDmremap({ label, cli, main, spare, socket, apiSocket: `${socket}.api` });
}

function range(values: readonly number[], digits: number): string {
  const lo = Math.min(...values).toFixed(digits);
  const hi = Math.max(...values).toFixed(digits);
  return lo === hi ? lo : `${lo} - ${hi}`;
}

async function main(): Promise<void> {
  const runtimeS = Number(option("runtime", "5"));
  const rounds = Number(option("rounds", "3"));
  const keys = option("workloads", "randread,randwrite").split(",");
  const floors = option("floors", "cork,slab,handle").split(",").filter(Boolean);
  const base = option("base", "");
  const dir = join(process.env.BENCH_DIR ?? "/dev/shm", `dmremap-floor-${process.pid}`);
  await mkdir(dir, { recursive: true });
  const servers: BenchServer[] = [];
  const raw: Record<string, Record<string, Measured[]>> = {};
  try {
    const mainImg = join(dir, "main.img");
    await writeRandomImage(mainImg, 1 << 30);
    servers.push(await startNbdkit(mainImg, join(dir, "kit.sock")));
    for (const f of floors) {
      const [reply, recv = "onread"] = f.split(":") as [string, string?];
      servers.push(await startFloor(mainImg, join(dir, `floor-${reply}-${recv}.sock`), reply, recv));
    }
    if (base) servers.push(await startServe(dir, mainImg, "dmremap before", base));
    servers.push(await startServe(dir, mainImg, base ? "dmremap after" : "dmremap", CLI));
    for (let round = 0; round < rounds; round++) {
      for (const w of WORKLOADS.filter((x) => keys.includes(x.key))) {
        for (const server of round % 2 === 1 ? [...servers].reverse() : servers) {
          const spec = { name: w.key, sizeBytes: 1 << 30, ...w.job };
          const { result } = await measure(server, spec, runtimeS, join(dir, "fio.json"));
          ((raw[w.label] ??= {})[server.label] ??= []).push(result);
          process.stderr.write(
            `round ${round + 1} ${w.label} ${server.label}: ${result.mbPerS.toFixed(1)} MB/s, ` +
              `${result.cpuUsPerIo.toFixed(2)} CPU µs/IO\n`,
          );
        }
      }
    }
  } finally {
    for (const s of servers.reverse()) await s.stop();
    await rm(dir, { recursive: true, force: true });
  }
  const lines = ["| workload | server | CPU µs/IO (range) | MB/s (range) |", "| --- | --- | ---: | ---: |"];
  const rows: ResultRow[] = [];
  for (const [label, per] of Object.entries(raw)) {
    const kit = meanRow(label, "nbdkit", per["nbdkit"]!);
    for (const [server, results] of Object.entries(per)) {
      const cpu = range(
        results.map((r) => r.cpuUsPerIo),
        2,
      );
      const mbs = range(
        results.map((r) => r.mbPerS),
        0,
      );
      lines.push(`| ${label} | ${server} | ${cpu} | ${mbs} |`);
      const row = meanRow(label, server, results);
      rows.push(server === "nbdkit" ? row : { ...row, ratio: ratioText(row.mbPerS, kit.mbPerS, "nbdkit") });
    }
  }
  console.log(lines.join("\n"));
  console.log();
  console.log(renderTable(rows));
}

await main();
