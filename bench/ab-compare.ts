// Before / after: nbdkit, `dmremap serve` of another build (--base=PATH/dist/src/cli/main.js) and of
// this build, on the same tmpfs image, alternating like the main comparison. Not part of `npm run bench`.
// Run: node dist/bench/ab-compare.js --base=/tmp/old/dist/src/cli/main.js [--runtime=S] [--rounds=N]
//      [--workloads=randread,randwrite,...] [--variant=LABEL:NAME=VALUE,NAME=VALUE ...]
// Each --variant adds one more server of this build, "dmremap LABEL", with those environment variables
// (e.g. --variant=loop:DMREMAP_IO_ENGINE=loop), measured in the same alternation. --remaps=N adds the
// before and after builds once more with N remaps spread over the image (ratio against 0 remaps).
import { spawnSync } from "node:child_process";
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { measure, type Measured } from "./measure.js";
import { WORKLOADS } from "./nbd-compare.js";
import { meanRow, ratioText, renderTable, type ResultRow } from "./report.js";
import { createSparse, remapViaApi, spreadBlocks, writeRandomImage } from "./setup.js";
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

/** The --variant options: a label and the environment of one more server of this build. */
function variants(): { label: string; env: Record<string, string> }[] {
  return process.argv
    .filter((a) => a.startsWith("--variant="))
    .map((a) => {
      const [label, vars = ""] = a.slice("--variant=".length).split(":", 2) as [string, string?];
      const env: Record<string, string> = {};
      for (const pair of vars.split(",").filter(Boolean)) {
        const eq = pair.indexOf("=");
        if (eq < 1) throw new Error(`--variant ${a}: "${pair}" is not NAME=VALUE`);
        env[pair.slice(0, eq)] = pair.slice(eq + 1);
      }
      return { label: `dmremap ${label}`, env };
    });
}

/** One dmremap server of the comparison: which build, its environment, remaps made before measuring. */
interface ServerSpec {
  readonly label: string;
  readonly cli: string;
  readonly env: Record<string, string>;
  readonly remaps: number;
}

async function startSpec(dir: string, mainImg: string, spec: ServerSpec): Promise<BenchServer> {
  const spare = join(dir, `spare-${spec.label.replace(/[^A-Za-z0-9]+/g, "-")}.img`);
  await createSparse(spare, 64 * 2 ** 20 + Math.ceil((spec.remaps * 4096 * 1.1) / 4096) * 4096);
  createWith(spec.cli, mainImg, spare);
  const sock = `${spare}.sock`;
  const server = await startDmremap({
    label: spec.label,
    cli: spec.cli,
    main: mainImg,
    spare,
    socket: sock,
    apiSocket: `${sock}.api`,
    env: spec.env,
  });
  if (spec.remaps > 0)
    await remapViaApi(server.apiSocket!, "dmremap", spreadBlocks(spec.remaps, (1 << 30) / 4096));
  return server;
}

async function main(): Promise<void> {
  const base = option("base", "");
  if (!base) throw new Error("--base=PATH/dist/src/cli/main.js (the build to compare with) is required");
  const runtimeS = Number(option("runtime", "7"));
  const rounds = Number(option("rounds", "2"));
  const remaps = Number(option("remaps", "0"));
  const keys = option("workloads", WORKLOADS.map((w) => w.key).join(",")).split(",");
  const self = new URL("../src/cli/main.js", import.meta.url).pathname;
  const specs: ServerSpec[] = [
    { label: "dmremap before", cli: base, env: {}, remaps: 0 },
    { label: "dmremap after", cli: self, env: {}, remaps: 0 },
    ...variants().map((v) => ({ label: v.label, cli: self, env: v.env, remaps: 0 })),
  ];
  // --remaps=N: each build again with N remaps spread over the image (the "N remaps vs 0" ratio).
  if (remaps > 0) {
    for (const spec of specs.slice(0, 2))
      specs.push({ ...spec, label: `${spec.label} ${remaps} remaps`, remaps });
  }
  const dir = join(process.env.BENCH_DIR ?? "/dev/shm", `dmremap-ab-${process.pid}`);
  await mkdir(dir, { recursive: true });
  const servers: BenchServer[] = [];
  const raw: Record<string, Record<string, Measured[]>> = {};
  try {
    const mainImg = join(dir, "main.img");
    await writeRandomImage(mainImg, 1 << 30);
    servers.push(await startNbdkit(mainImg, join(dir, "kit.sock")));
    for (const spec of specs) servers.push(await startSpec(dir, mainImg, spec));
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
    for (const spec of specs) {
      const r = meanRow(label, spec.label, per[spec.label]!);
      const zero = spec.remaps > 0 ? specs.find((x) => x.cli === spec.cli && x.remaps === 0) : undefined;
      const ratio = zero
        ? ratioText(r.mbPerS, meanRow(label, zero.label, per[zero.label]!).mbPerS, "0 remaps")
        : ratioText(r.mbPerS, kit.mbPerS, "nbdkit");
      rows.push({ ...r, ratio });
    }
  }
  console.log(renderTable(rows));
}

await main();
