// End-to-end: `dmremap serve --config FILE` with two targets (issue 5 acceptance): both exports serve
// data, /metrics is valid Prometheus text that moves with I/O and remaps, the API changes the table,
// the CLI agrees with the API, and bad configs are refused with a message naming the key.
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { cliJson, readyAddresses, runCli, startProgram, tempDir, type RunningProgram } from "./harness.js";
import {
  api,
  nbdsh,
  nbdUnixUri,
  parsePrometheus,
  requireTools,
  sampleValue,
  sparseFile,
  type Sample,
} from "./tools.js";

const TOKEN = "e2e-secret-token";

interface Status {
  name: string;
  uuid: string;
  state: string;
  remappedBlocks: number;
  pendingBlocks: number;
  spare: { usedBlocks: number; totalBlocks: number };
  metadata: { generation: number };
}

/** Writes the files and the config of two targets: alpha (plain) and beta (two spares, fault layer). */
async function writeSetup(dir: string): Promise<{ config: string; socket: string }> {
  const sizes: Record<string, number> = {
    "alpha-main": 16 << 20,
    "alpha-spare": 2 << 20,
    "beta-main": 16 << 20,
    "beta-spare1": 2 << 20,
    "beta-spare2": 2 << 20,
  };
  for (const [name, size] of Object.entries(sizes)) await sparseFile(join(dir, `${name}.img`), size);
  await writeFile(join(dir, "token"), `${TOKEN}\n`, { mode: 0o600 });
  const socket = join(dir, "nbd.sock");
  const config = join(dir, "dmremap.toml");
  await writeFile(
    config,
    `[daemon]
log_level = "info"

[api]
listen = "tcp:127.0.0.1:0"
token_file = "${dir}/token"

[metrics]
enabled = true
process_metrics = false

[nbd]
listen = ["unix:${socket}"]

[[target]]
name = "alpha"
main = "${dir}/alpha-main.img"
spares = ["${dir}/alpha-spare.img"]
create = true

[[target]]
name = "beta"
export = "beta-export"
main = "${dir}/beta-main.img"
spares = ["${dir}/beta-spare1.img", "${dir}/beta-spare2.img"]
create = true

[target.faults]
enabled = true
[target.faults.dust]
blocks = [10, 11]
`,
  );
  return { config, socket };
}

/** nbdsh: write a 4 KiB pattern (seeded by block number and `tag`) with FUA at each block, read all back. */
function writeAndCheckScript(blocks: number[], tag: number): string {
  return `
def pat(b):
    return ((b * 131 + ${tag}) % 251 + 1).to_bytes(1, "little") * 4096
for b in ${JSON.stringify(blocks)}:
    h.pwrite(pat(b), b * 4096, nbd.CMD_FLAG_FUA)
bad = [b for b in ${JSON.stringify(blocks)} if h.pread(4096, b * 4096) != pat(b)]
print("mismatches", bad)
`;
}

function checkScript(blocks: number[], tag: number): string {
  return `
def pat(b):
    return ((b * 131 + ${tag}) % 251 + 1).to_bytes(1, "little") * 4096
bad = [b for b in ${JSON.stringify(blocks)} if h.pread(4096, b * 4096) != pat(b)]
print("mismatches", bad)
`;
}

async function nbdOk(uri: string, script: string): Promise<void> {
  const result = await nbdsh(uri, script);
  assert.equal(result.code, 0, `nbdsh on ${uri}: ${result.stderr}`);
  assert.match(result.stdout, /^mismatches \[\]$/m, `data read back differs on ${uri}: ${result.stdout}`);
}

async function metrics(base: string): Promise<Sample[]> {
  const answer = await api(base, "GET", "/metrics");
  assert.equal(answer.status, 200);
  assert.match(answer.contentType, /^text\/plain/);
  return parsePrometheus(answer.text);
}

async function getJson<T>(base: string, path: string): Promise<T> {
  const answer = await api(base, "GET", path);
  assert.equal(answer.status, 200, `GET ${path}: ${answer.text}`);
  return answer.json as T;
}

async function post(base: string, path: string, body: unknown): Promise<void> {
  const answer = await api(base, "POST", path, { body, token: TOKEN });
  assert.ok(answer.status === 200 || answer.status === 201, `POST ${path}: ${answer.status} ${answer.text}`);
}

test("two targets from a config: data, metrics, API table changes, CLI agrees, restart keeps state", async () => {
  await requireTools("nbdsh");
  const dir = await tempDir();
  let program: RunningProgram | undefined;
  try {
    const { config, socket } = await writeSetup(dir.path);
    program = await startProgram(["serve", "--config", config]);
    const base = readyAddresses(program).api;
    const alpha = nbdUnixUri(socket, "alpha");
    const beta = nbdUnixUri(socket, "beta-export");

    const health = await getJson<{ status: string; targets: Record<string, string> }>(base, "/healthz");
    assert.deepEqual(health, { status: "ok", targets: { alpha: "healthy", beta: "healthy" } });
    const list = await getJson<{ name: string; exportName: string }[]>(base, "/v1/targets");
    assert.deepEqual(
      list.map((t) => [t.name, t.exportName]),
      [
        ["alpha", "alpha"],
        ["beta", "beta-export"],
      ],
    );

    const before = await metrics(base);
    assert.equal(sampleValue(before, "dmremap_targets"), 2);
    for (const name of ["alpha", "beta"]) {
      assert.equal(
        sampleValue(before, "dmremap_remapped_blocks", { target: name }),
        0,
        `${name} starts clean`,
      );
    }
    const written0 = sampleValue(before, "dmremap_written_bytes_total", { target: "alpha" }) ?? 0;

    // Both exports serve data; beta's dust blocks 10 and 11 are remapped by the writes.
    await nbdOk(alpha, writeAndCheckScript([0, 1, 2, 100, 4000], 1));
    await nbdOk(beta, writeAndCheckScript([9, 10, 11, 12, 100], 2));
    const afterIo = await metrics(base);
    assert.ok(
      (sampleValue(afterIo, "dmremap_written_bytes_total", { target: "alpha" }) ?? 0) >= written0 + 5 * 4096,
      "written bytes of alpha moved",
    );
    assert.equal(
      sampleValue(afterIo, "dmremap_remapped_blocks", { target: "beta" }),
      2,
      "beta's dust blocks",
    );
    assert.equal(sampleValue(afterIo, "dmremap_remapped_blocks", { target: "alpha" }), 0);
    assert.ok(
      (sampleValue(afterIo, "dmremap_io_errors_total", { target: "beta", op: "write" }) ?? 0) > 0,
      "beta's write errors on main are counted",
    );

    // Remap through the API: data moves with the block, the table shows it, metrics follow.
    const denied = await api(base, "POST", "/v1/targets/alpha/remap", { body: { blocks: [100] } });
    assert.ok([401, 403].includes(denied.status), `mutation without token refused: ${denied.status}`);
    await post(base, "/v1/targets/alpha/remap", { blocks: [100] });
    let remaps = await getJson<{ entries: { block: number }[]; total: number }>(
      base,
      "/v1/targets/alpha/remaps",
    );
    assert.deepEqual(
      remaps.entries.map((e) => e.block),
      [100],
    );
    assert.equal(remaps.total, 1);
    await nbdOk(alpha, checkScript([0, 1, 2, 100, 4000], 1));
    const afterRemap = await metrics(base);
    assert.equal(sampleValue(afterRemap, "dmremap_remapped_blocks", { target: "alpha" }), 1);
    assert.equal(sampleValue(afterRemap, "dmremap_remaps_total", { target: "alpha", reason: "manual" }), 1);
    assert.equal(
      sampleValue(afterRemap, "dmremap_remaps_total", { target: "beta", reason: "write-error" }),
      2,
      "beta's remaps are counted by reason",
    );
    assert.ok(
      (sampleValue(afterRemap, "dmremap_metadata_generation", { target: "alpha" }) ?? 0) >
        (sampleValue(before, "dmremap_metadata_generation", { target: "alpha" }) ?? 0),
      "metadata generation moved",
    );
    await post(base, "/v1/targets/alpha/unremap", { blocks: [100] });
    remaps = await getJson(base, "/v1/targets/alpha/remaps");
    assert.deepEqual(remaps.entries, []);
    await nbdOk(alpha, checkScript([100], 1));

    // Fault API: only beta has one; a new dust rule makes the next write to block 300 remap.
    assert.equal((await api(base, "GET", "/v1/targets/alpha/faults")).status, 404);
    await post(base, "/v1/targets/beta/faults", { kind: "dust", blocks: [300] });
    await nbdOk(beta, writeAndCheckScript([300], 2));
    remaps = await getJson(base, "/v1/targets/beta/remaps");
    assert.deepEqual(
      remaps.entries.map((e) => e.block),
      [10, 11, 300],
    );

    // The CLI's online remap / unremap go through the same API.
    const tokenFile = join(dir.path, "token");
    const viaCli = await runCli([
      "remap",
      "--api",
      base,
      "--token-file",
      tokenFile,
      "--target",
      "alpha",
      "4000",
    ]);
    assert.equal(viaCli.code, 0, viaCli.stderr);
    remaps = await getJson(base, "/v1/targets/alpha/remaps");
    assert.deepEqual(
      remaps.entries.map((e) => e.block),
      [4000],
    );
    const backViaCli = await runCli([
      "unremap",
      "--api",
      base,
      "--token-file",
      tokenFile,
      "--target",
      "alpha",
      "4000",
    ]);
    assert.equal(backViaCli.code, 0, backViaCli.stderr);
    assert.deepEqual((await getJson<typeof remaps>(base, "/v1/targets/alpha/remaps")).entries, []);

    // The CLI's online status agrees with the API.
    const fromApi = await getJson<Status>(base, "/v1/targets/beta");
    const fromCli = await cliJson<Status>(["status", "--api", base, "beta"]);
    for (const key of ["name", "uuid", "state", "remappedBlocks", "pendingBlocks"] as const) {
      assert.equal(fromCli[key], fromApi[key], `status.${key}: CLI vs API`);
    }
    assert.equal(fromCli.spare.usedBlocks, fromApi.spare.usedBlocks);
    assert.equal(fromCli.metadata.generation, fromApi.metadata.generation);

    assert.equal(await program.stop("SIGTERM"), 0, "SIGTERM exits 0");
    program = undefined;
    const offline = await cliJson<Status>([
      "status",
      "--spare",
      join(dir.path, "beta-spare1.img"),
      "--spare",
      join(dir.path, "beta-spare2.img"),
    ]);
    assert.equal(offline.uuid, fromApi.uuid);
    assert.equal(offline.remappedBlocks, fromApi.remappedBlocks, "remaps persisted");
    assert.equal(offline.spare.usedBlocks, fromApi.spare.usedBlocks);

    // create = true must not format an existing set again.
    program = await startProgram(["serve", "--config", config]);
    const base2 = readyAddresses(program).api;
    assert.equal((await getJson<Status>(base2, "/v1/targets/beta")).uuid, fromApi.uuid);
    await nbdOk(alpha, checkScript([0, 1, 2, 100, 4000], 1));
    await nbdOk(beta, checkScript([9, 10, 11, 12, 100, 300], 2));
    assert.equal(await program.stop("SIGTERM"), 0);
    program = undefined;
  } finally {
    await program?.stop("SIGKILL");
    await dir.cleanup();
  }
});

test("bad configs are refused with a non-zero exit and a message naming the key", async () => {
  const dir = await tempDir();
  try {
    const target = (extra: string, name = "a") =>
      `[[target]]\nname = "${name}"\nmain = "${dir.path}/m.img"\nspares = ["${dir.path}/s.img"]\n${extra}\n`;
    const head = `[api]\nlisten = "tcp:127.0.0.1:0"\n[nbd]\nlisten = ["unix:${dir.path}/nbd.sock"]\n`;
    const cases: [string, string, string[]][] = [
      ["unknown key", head + target(`colour = "red"`), ["target[0].colour", "unknown"]],
      ["bad type", head + target(`block_size = "big"`), ["target[0].block_size", "big"]],
      [
        "out of range",
        head + target(`[target.policy]\nwrite_retries = 99`),
        ["target[0].policy.write_retries", "99"],
      ],
      ["not a power of two", head + target("block_size = 3000"), ["target[0].block_size", "3000"]],
      ["duplicate name", head + target("") + target("", "a"), ["name", '"a"']],
      [
        "rate above 1",
        head + target(`[target.faults]\nenabled = true\n[target.faults.random]\nread = 2`),
        ["target[0].faults.random.read", "2"],
      ],
      ["bad listen", `[nbd]\nlisten = ["tcp:localhost"]\n` + target(""), ["nbd.listen", "tcp:localhost"]],
    ];
    for (const [what, text, needles] of cases) {
      const file = join(dir.path, `${what.replace(/ /g, "-")}.toml`);
      await writeFile(file, text);
      const result = await runCli(["serve", "--config", file], { timeoutMs: 30_000 });
      assert.notEqual(result.code, 0, `${what}: must be refused`);
      assert.ok(result.stderr.includes(file), `${what}: message names the file: ${result.stderr}`);
      for (const n of needles)
        assert.ok(result.stderr.includes(n), `${what}: message names ${n}: ${result.stderr}`);
      assert.ok(!result.stderr.includes('"ready"'), `${what}: the daemon never got ready`);
    }
  } finally {
    await dir.cleanup();
  }
});
