// End-to-end: `dmremap serve` over a failing main device (dust bad blocks recorded at create, and a
// remote main served by nbdkit whose error filter fails writes), driven by fio and nbdsh.
import { test } from "node:test";
import assert from "node:assert/strict";
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  cliJson,
  readyAddresses,
  run,
  runCli,
  startProgram,
  tempDir,
  type RunningProgram,
} from "./harness.js";
import { api, fio, FIO_COMMON, nbdsh, nbdUnixUri, requireTools, sparseFile, startNbdkit } from "./tools.js";

interface Status {
  state: string;
  remappedBlocks: number;
  pendingBlocks: number;
  errors: { read: number; write: number };
  remaps: Record<string, number>;
}

const BLOCK = 4096;

function serve(spare: string, socket: string): Promise<RunningProgram> {
  return startProgram(["serve", "--spare", spare, "--listen", `unix:${socket}`, "--api", "tcp:127.0.0.1:0"]);
}

async function stopCleanly(program: RunningProgram): Promise<void> {
  const code = await program.stop("SIGTERM");
  assert.equal(code, 0, `dmremap must exit 0 on SIGTERM; log:\n${program.logLines.slice(-5).join("\n")}`);
}

async function targetStatus(program: RunningProgram, name: string): Promise<Status> {
  const answer = await api(readyAddresses(program).api, "GET", `/v1/targets/${name}`);
  assert.equal(answer.status, 200, answer.text);
  return answer.json as Status;
}

/** fio job over two 8 MiB regions (one per job), random 4 KiB writes, crc32c verify. */
const FIO_JOB = [
  "--name=faults",
  "--rw=randwrite",
  "--bs=4k",
  "--size=8m",
  "--offset_increment=8m",
  "--numjobs=2",
  "--verify=crc32c",
  "--randseed=42",
  "--group_reporting",
];

test("dust bad blocks on main: fio verify passes, unwritten bad block reads EIO, data survives restart", async () => {
  await requireTools("fio", "nbdsh");
  const dir = await tempDir();
  const name = "dusty";
  let program: RunningProgram | undefined;
  try {
    const main = await sparseFile(join(dir.path, "main.img"), 32 << 20);
    const spare = await sparseFile(join(dir.path, "spare.img"), 8 << 20);
    const socket = join(dir.path, "nbd.sock");
    const uri = nbdUnixUri(socket, name);
    // Blocks 100-103 and 3000 lie in fio's 16 MiB; block 7000 (at 28 MiB) is never written by fio.
    const mainSpec = `dust:block=100-103,block=3000,block=7000,block-size=4096:${main}`;
    const created = await runCli(["create", "--main", mainSpec, "--spare", spare, "--name", name]);
    assert.equal(created.code, 0, created.stderr);

    program = await serve(spare, socket);
    const written = await fio(uri, [...FIO_JOB, "--do_verify=1"]);
    assert.match(written.stdout, /err= 0/, written.stdout);
    let status = await targetStatus(program, name);
    assert.equal(status.remappedBlocks, 5, "every dust block fio wrote was remapped");
    assert.equal(status.pendingBlocks, 0);

    const probe = await nbdsh(
      uri,
      `
good = h.pread(${BLOCK}, ${7001 * BLOCK})
try:
    h.pread(${BLOCK}, ${7000 * BLOCK})
    print("read-ok")
except nbd.Error as e:
    print("read-errno", e.errno)
`,
    );
    assert.equal(probe.code, 0, probe.stderr);
    assert.match(
      probe.stdout,
      /read-errno (EIO|5)\n/,
      "a never-written bad block reads as EIO, never as zeroes",
    );
    status = await targetStatus(program, name);
    assert.equal(status.pendingBlocks, 1, "the unreadable block is pending");
    const rewrite = await nbdsh(
      uri,
      `
data = bytes((i * 7 + 3) % 256 for i in range(${BLOCK}))
h.pwrite(data, ${7000 * BLOCK}, nbd.CMD_FLAG_FUA)
print("rewrite", "same" if h.pread(${BLOCK}, ${7000 * BLOCK}) == data else "differs")
`,
    );
    assert.equal(rewrite.code, 0, rewrite.stderr);
    assert.match(rewrite.stdout, /rewrite same/, "writing the unreadable block remaps it");
    status = await targetStatus(program, name);
    assert.equal(status.remappedBlocks, 6);
    assert.equal(status.pendingBlocks, 0, "the rewrite cleared the pending mark");
    await stopCleanly(program);
    program = undefined;

    const offline = await cliJson<Status>(["status", "--spare", spare]);
    assert.equal(offline.remappedBlocks, 6, "remaps are persistent");
    assert.equal(offline.pendingBlocks, 0);

    program = await serve(spare, socket);
    const verified = await fio(uri, [...FIO_JOB, "--verify_only"]);
    assert.match(verified.stdout, /err= 0/, verified.stdout);
    // The verify run must be able to fail: the same job over a region fio never wrote.
    const unwritten = await run("fio", [
      "--ioengine=nbd",
      `--uri=${uri}`,
      ...FIO_COMMON,
      ...FIO_JOB,
      "--offset=16m",
      "--verify_only",
    ]);
    assert.notEqual(unwritten.code, 0, `fio verify of never-written data must fail:\n${unwritten.stdout}`);
    await stopCleanly(program);
    program = undefined;
  } finally {
    await program?.stop("SIGKILL");
    await dir.cleanup();
  }
});

test("remote main (nbdkit error filter): failed writes are remapped, fio verify passes", async () => {
  await requireTools("nbdkit", "fio");
  const dir = await tempDir();
  const name = "remote";
  let program: RunningProgram | undefined;
  const trigger = join(dir.path, "fail-writes");
  const kit = await startNbdkit(join(dir.path, "kit.sock"), [
    "--filter=error",
    "memory",
    "32M",
    "error-pwrite=EIO",
    "error-pwrite-rate=100%",
    `error-pwrite-file=${trigger}`,
  ]);
  try {
    const spare = await sparseFile(join(dir.path, "spare.img"), 8 << 20);
    const socket = join(dir.path, "nbd.sock");
    const uri = nbdUnixUri(socket, name);
    const mainUri = `nbd+unix:///?socket=${join(dir.path, "kit.sock")}`;
    const created = await runCli(["create", "--main", mainUri, "--spare", spare, "--name", name]);
    assert.equal(created.code, 0, created.stderr);
    program = await serve(spare, socket);

    const failing = [
      "--name=failing",
      "--rw=randwrite",
      "--bs=4k",
      "--offset=4m",
      "--size=1m",
      "--randseed=7",
    ];
    const healthy = [
      "--name=healthy",
      "--rw=randwrite",
      "--bs=4k",
      "--offset=12m",
      "--size=1m",
      "--randseed=8",
    ];
    await writeFile(trigger, "");
    const a = await fio(uri, [...failing, "--verify=crc32c", "--do_verify=1"]);
    assert.match(a.stdout, /err= 0/, a.stdout);
    await rm(trigger);
    let status = await targetStatus(program, name);
    assert.equal(status.remappedBlocks, 256, "each of the 256 blocks written while main failed was remapped");
    assert.ok(status.errors.write > 0, "main's write errors are counted");
    const b = await fio(uri, [...healthy, "--verify=crc32c", "--do_verify=1"]);
    assert.match(b.stdout, /err= 0/, b.stdout);
    status = await targetStatus(program, name);
    assert.equal(status.remappedBlocks, 256, "writes to a healthy main burn no spares");
    await stopCleanly(program);
    program = undefined;

    program = await serve(spare, socket);
    for (const job of [failing, healthy]) {
      const v = await fio(uri, [...job, "--verify=crc32c", "--verify_only"]);
      assert.match(v.stdout, /err= 0/, v.stdout);
    }
    await stopCleanly(program);
    program = undefined;
  } finally {
    await program?.stop("SIGKILL");
    await kit.stop("SIGTERM");
    await dir.cleanup();
  }
});

test("spare exhaustion: the write that needs a slot fails with ENOSPC, earlier remaps stay intact", async () => {
  await requireTools("nbdkit", "nbdsh");
  const dir = await tempDir();
  const name = "full";
  let program: RunningProgram | undefined;
  const trigger = join(dir.path, "fail-writes");
  await writeFile(trigger, "");
  const kit = await startNbdkit(join(dir.path, "kit.sock"), [
    "--filter=error",
    "memory",
    "16M",
    "error-pwrite=EIO",
    "error-pwrite-rate=100%",
    `error-pwrite-file=${trigger}`,
  ]);
  try {
    const spare = await sparseFile(join(dir.path, "spare.img"), 1 << 20);
    const socket = join(dir.path, "nbd.sock");
    const uri = nbdUnixUri(socket, name);
    const mainUri = `nbd+unix:///?socket=${join(dir.path, "kit.sock")}`;
    const created = await runCli(["create", "--main", mainUri, "--spare", spare, "--name", name, "--json"]);
    assert.equal(created.code, 0, created.stderr);
    const slots = (JSON.parse(created.stdout) as { spare: { totalBlocks: number } }).spare.totalBlocks;
    assert.ok(slots > 0 && slots < 1000, `${slots} slots`);
    program = await serve(spare, socket);
    const fill = await nbdsh(
      uri,
      `
def pat(i):
    return (i + 1).to_bytes(4, "little") * 1024
ok = 0
for i in range(${slots + 10}):
    try:
        h.pwrite(pat(i), i * 4096)
        ok += 1
    except nbd.Error as e:
        print("failed-at", i, e.errno)
        break
print("written", ok)
print("bad", [i for i in range(ok) if h.pread(4096, i * 4096) != pat(i)])
`,
    );
    assert.equal(fill.code, 0, fill.stderr);
    assert.match(fill.stdout, new RegExp(`failed-at ${slots} (ENOSPC|28|EIO|5)\\n`), fill.stdout);
    assert.match(fill.stdout, /bad \[\]/, "every acknowledged remapped write reads back");
    const status = await targetStatus(program, name);
    assert.equal(status.remappedBlocks, slots);
    assert.equal(status.state, "degraded", "exhaustion shows in the state");
    const health = await api(readyAddresses(program).api, "GET", "/healthz");
    assert.deepEqual((health.json as { targets: Record<string, string> }).targets, { [name]: "degraded" });

    // Main recovers: remapped blocks keep living on the spare, the rest is written to main again.
    await rm(trigger);
    const after = await nbdsh(
      uri,
      `
data = b"\\x5a" * 4096
for b in (0, ${slots}, ${slots + 5}):
    h.pwrite(data, b * 4096, nbd.CMD_FLAG_FUA)
print("same", all(h.pread(4096, b * 4096) == data for b in (0, ${slots}, ${slots + 5})))
`,
    );
    assert.equal(after.code, 0, after.stderr);
    assert.match(after.stdout, /same True/);
    await stopCleanly(program);
    program = undefined;
    const offline = await cliJson<Status>(["status", "--spare", spare]);
    assert.equal(offline.remappedBlocks, slots, "the full table is persistent");
  } finally {
    await program?.stop("SIGKILL");
    await kit.stop("SIGTERM");
    await dir.cleanup();
  }
});
