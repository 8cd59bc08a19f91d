// Preparation of a benchmark run: required tools (never installed here), free space on tmpfs,
// a random-filled main image, dmremap sets on it, and remaps applied through the control API.
import { spawnSync } from "node:child_process";
import { randomFillSync } from "node:crypto";
import { open, statfs } from "node:fs/promises";
import { request } from "node:http";
import { CLI } from "./servers.js";

/** Exit with install hints if fio (with its nbd engine) or nbdkit is missing. */
export function checkTools(): { fio: string; nbdkit: string } {
  const missing: string[] = [];
  const fio = spawnSync("fio", ["--version"], { encoding: "utf8" });
  const engines = spawnSync("fio", ["--enghelp"], { encoding: "utf8" });
  if (fio.status !== 0) missing.push("fio (Debian/Ubuntu: apt-get install fio)");
  else if (!/^\s*nbd\s*$/m.test(engines.stdout ?? ""))
    missing.push("fio built with the nbd engine (Debian's fio >= 3.19 has it; needs libnbd)");
  const kit = spawnSync("nbdkit", ["--version"], { encoding: "utf8" });
  if (kit.status !== 0) missing.push("nbdkit (Debian/Ubuntu: apt-get install nbdkit)");
  if (missing.length > 0) {
    console.error(`bench: missing tools, nothing was installed:\n  - ${missing.join("\n  - ")}`);
    process.exit(1);
  }
  return { fio: fio.stdout.trim(), nbdkit: kit.stdout.trim() };
}

/** Exit with a message if `dir` has less than `bytes` free. */
export async function checkSpace(dir: string, bytes: number): Promise<void> {
  let free: number;
  try {
    const st = await statfs(dir);
    free = st.bavail * st.bsize;
  } catch (err) {
    console.error(
      `bench: ${dir} is not usable (${(err as Error).message}); set BENCH_DIR to a tmpfs directory`,
    );
    process.exit(1);
  }
  if (free < bytes) {
    const gib = (n: number) => (n / 2 ** 30).toFixed(2);
    console.error(
      `bench: ${dir} has ${gib(free)} GiB free, the run needs ${gib(bytes)} GiB: free ${gib(bytes - free)} GiB ` +
        `or point BENCH_DIR at another tmpfs (mount -t tmpfs -o size=2G tmpfs DIR)`,
    );
    process.exit(1);
  }
}

/** Write `sizeBytes` of random data to a new file at `path`. */
export async function writeRandomImage(path: string, sizeBytes: number): Promise<void> {
  const fh = await open(path, "w");
  try {
    const chunk = Buffer.allocUnsafe(1 << 22);
    for (let at = 0; at < sizeBytes; at += chunk.length) {
      randomFillSync(chunk);
      await fh.write(chunk, 0, Math.min(chunk.length, sizeBytes - at), at);
    }
  } finally {
    await fh.close();
  }
}

/** Create a sparse file of `sizeBytes`. */
export async function createSparse(path: string, sizeBytes: number): Promise<void> {
  const fh = await open(path, "w");
  await fh.truncate(sizeBytes);
  await fh.close();
}

/** `dmremap create` a set with `main` and one `spare` (block size 4096). */
export function createSet(main: string, spare: string): void {
  const r = spawnSync(process.execPath, [CLI, "create", "--main", main, "--spare", spare, "--force"], {
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`dmremap create failed: ${r.stderr || r.stdout}`);
}

function post(socketPath: string, path: string, body: unknown): Promise<string> {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = request(
      {
        socketPath,
        path,
        method: "POST",
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(data) },
      },
      (res) => {
        let text = "";
        res.on("data", (d: Buffer) => (text += d.toString()));
        res.on("end", () =>
          res.statusCode === 200
            ? resolve(text)
            : reject(new Error(`POST ${path}: ${res.statusCode} ${text}`)),
        );
      },
    );
    req.on("error", reject);
    req.end(data);
  });
}

/** `count` block numbers spread evenly over `blockCount` blocks (deterministic). */
export function spreadBlocks(count: number, blockCount: number): number[] {
  const stride = blockCount / count;
  return Array.from({ length: count }, (_, i) => Math.floor(i * stride + stride / 2));
}

/** Remap `blocks` of target `name` through the control API on `apiSocket`, in batches. */
export async function remapViaApi(apiSocket: string, name: string, blocks: readonly number[]): Promise<void> {
  for (let i = 0; i < blocks.length; i += 5000) {
    await post(apiSocket, `/v1/targets/${name}/remap`, { blocks: blocks.slice(i, i + 5000) });
  }
}
