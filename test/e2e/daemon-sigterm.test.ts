// End-to-end: stopping the daemon (SIGTERM) or killing it (SIGKILL, a crash) while a client writes loses
// no acknowledged-and-flushed write (promise 5), including writes remapped because main has bad blocks.
// SIGKILL is a process crash: the page cache survives; power loss is the crash harness's job.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { logMessage, readyAddresses, run, startProgram, tempDir, type RunningProgram } from "./harness.js";
import { api, FIO_COMMON, nbdsh, nbdUnixUri, requireTools, sparseFile, startLines } from "./tools.js";

const BLOCKS = 3000;
/** Acknowledged writes to wait for before SIGTERM. */
const ACKED_BEFORE_STOP = 150;
const DUST = [20, 21, 90, 149, 400, 2500];

/** Block i holds its number + 1, repeated; even blocks are written with FUA, odd ones flushed after. */
const PATTERN = `
def pat(i):
    return (i + 1).to_bytes(4, "little") * 1024
`;

async function stopDuringWrites(t: TestContext, signal: "SIGTERM" | "SIGKILL"): Promise<void> {
  await requireTools("nbdsh", "fio");
  const dir = await tempDir();
  let program: RunningProgram | undefined;
  try {
    await sparseFile(join(dir.path, "main.img"), 16 << 20);
    await sparseFile(join(dir.path, "spare.img"), 2 << 20);
    const socket = join(dir.path, "nbd.sock");
    const config = join(dir.path, "dmremap.toml");
    await writeFile(
      config,
      `[api]
listen = "tcp:127.0.0.1:0"
[nbd]
listen = ["unix:${socket}"]
[[target]]
name = "durable"
main = "${dir.path}/main.img"
spares = ["${dir.path}/spare.img"]
create = true
[target.faults]
enabled = true
[target.faults.dust]
blocks = ${JSON.stringify(DUST)}
`,
    );
    const uri = nbdUnixUri(socket, "durable");
    program = await startProgram(["serve", "--config", config]);
    const running = program;
    // fio keeps writing the last 4 MiB on its own connection while the daemon is stopped.
    const load = run(
      "fio",
      [
        "--name=load",
        "--ioengine=nbd",
        `--uri=${uri}`,
        ...FIO_COMMON,
        "--rw=randwrite",
        "--bs=4k",
        "--iodepth=8",
        "--offset=12m",
        "--size=4m",
        "--time_based",
        "--runtime=120",
      ],
      { timeoutMs: 180_000 },
    );
    await running.waitForLog((l) => logMessage(l) === "nbd connection opened");

    const writer = startLines("nbdsh", [
      "-u",
      uri,
      "-c",
      `${PATTERN}
for i in range(${BLOCKS}):
    if i % 2 == 0:
        h.pwrite(pat(i), i * 4096, nbd.CMD_FLAG_FUA)
    else:
        h.pwrite(pat(i), i * 4096)
        h.flush()
    print(i, flush=True)
`,
    ]);
    try {
      await writer.waitForLines(ACKED_BEFORE_STOP);
    } catch (err) {
      writer.kill();
      throw err;
    }
    const connections = program.logLines.filter((l) => logMessage(l) === "nbd connection opened").length;
    assert.ok(connections >= 2, "fio and nbdsh were both connected when the daemon was stopped");
    const code = await program.stop(signal);
    const log = program.logLines;
    const fioResult = await load;
    assert.notEqual(fioResult.code, 124, "fio ended when the daemon went away (not by its own timeout)");
    program = undefined;
    if (signal === "SIGTERM") {
      assert.equal(code, 0, `dmremap exits 0 on SIGTERM:\n${log.slice(-5).join("\n")}`);
      assert.ok(
        log.some((l) => logMessage(l) === "stopping"),
        "the daemon logged its orderly stop",
      );
    }
    await writer.exited;
    const acked = writer.lines.filter((l) => /^\d+$/.test(l)).map(Number);
    assert.ok(acked.length >= ACKED_BEFORE_STOP, `${acked.length} writes acknowledged`);
    assert.deepEqual(
      acked,
      acked.map((_, i) => i),
      "acknowledgements arrive in order",
    );

    program = await startProgram(["serve", "--config", config]);
    const check = await nbdsh(
      uri,
      `${PATTERN}
bad = [i for i in range(${acked.length}) if h.pread(4096, i * 4096) != pat(i)]
print("checked", ${acked.length}, "bad", bad)
`,
    );
    assert.equal(check.code, 0, check.stderr);
    assert.match(check.stdout, /bad \[\]/, `acknowledged writes lost after ${signal}: ${check.stdout}`);
    const ackedDust = DUST.filter((b) => b < acked.length).length;
    assert.ok(ackedDust >= 3, "some acknowledged writes hit bad blocks");
    const status = await api(readyAddresses(program).api, "GET", "/v1/targets/durable");
    const remapped = (status.json as { remappedBlocks: number }).remappedBlocks;
    assert.ok(
      remapped >= ackedDust,
      `${remapped} remapped blocks cover the ${ackedDust} acknowledged bad blocks`,
    );
    t.diagnostic(
      `${signal}: ${acked.length} of ${BLOCKS} writes acknowledged before it; ${remapped} remapped`,
    );
    assert.equal(await program.stop("SIGTERM"), 0);
    program = undefined;
  } finally {
    await program?.stop("SIGKILL");
    await dir.cleanup();
  }
}

test("SIGTERM during fio and FUA/flushed writes: every acknowledged block reads back after restart", (t) =>
  stopDuringWrites(t, "SIGTERM"));

test("SIGKILL (crash) during fio and FUA/flushed writes: every acknowledged block reads back after restart", (t) =>
  stopDuringWrites(t, "SIGKILL"));
