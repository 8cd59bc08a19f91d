// End-to-end, promise 15 ("no write outlives its answer"): a main write slower than the request
// deadline must never land over a newer acknowledged and flushed write. Main is nbdkit (sh plugin)
// whose writes take 3 s while a trigger file exists; dmremap runs with a 1 s NBD request deadline.
import { test } from "node:test";
import assert from "node:assert/strict";
import { startProgram, tempDir, type RunningProgram } from "./harness.js";
import { datapathTarget } from "./datapath-support.js";
import { startSlowMain } from "./slow-main.js";
import { api, nbdsh, parsePrometheus, requireTools, sampleValue, waitForFile } from "./tools.js";

const BLOCK = 4096;

/** nbdsh script: write `fill` over block `block`; prints "write ok" or "write errno E". */
function writeScript(block: number, fill: number, flush: boolean): string {
  return `
try:
    h.pwrite(bytes([${fill}]) * ${BLOCK}, ${block * BLOCK})
    ${flush ? "h.flush()" : "pass"}
    print("write ok")
except nbd.Error as e:
    print("write errno", e.errno)
`;
}

/** nbdsh script: prints "fill N" when block `block` holds one repeated byte N, else "mixed"/"errno E". */
function readScript(block: number): string {
  return `
try:
    data = h.pread(${BLOCK}, ${block * BLOCK})
    print("fill", data[0] if data == bytes([data[0]]) * ${BLOCK} else "mixed")
except nbd.Error as e:
    print("errno", e.errno)
`;
}

async function sh(uri: string, script: string): Promise<string> {
  const result = await nbdsh(uri, script, 30_000);
  assert.equal(result.code, 0, result.stderr);
  return result.stdout.trim();
}

test("promise 15: a write that outlives its deadline never lands over a newer flushed write", async () => {
  await requireTools("nbdkit", "nbdsh");
  const dir = await tempDir();
  const main = await startSlowMain(dir.path, 16 << 20, 3000);
  let program: RunningProgram | undefined;
  try {
    const { config, uri, base } = await datapathTarget(dir.path, {
      name: "d",
      main: main.uri,
      spareBytes: 4 << 20,
      nbd: { request_deadline: "1s" },
      policy: { read_retry_budget: "500ms", main_write_timeout: "300ms" },
    });
    program = await startProgram(["serve", "--config", config]);

    // Write A meets a block whose writes take 3 s: its answer (ok after a remap, or EIO) comes
    // within the 1 s deadline, while main keeps working on it.
    await main.slow();
    const first = await sh(uri, writeScript(10, 0xaa, false));
    assert.match(first, /^write (ok|errno)/);
    // Write B is acknowledged and flushed, and reads back.
    await main.fast();
    assert.equal(await sh(uri, writeScript(10, 0xbb, true)), "write ok");
    assert.equal(await sh(uri, readScript(10)), "fill 187");
    // Main finishes write A; B must still be what the block holds.
    await waitForFile(main.landedMarker, 20_000);
    assert.equal(await sh(uri, readScript(10)), "fill 187", "the late write A must not land over B");

    const status = (await api(base, "GET", "/v1/targets/d")).json as {
      fence: { abandonedWrites: number };
    };
    assert.ok(status.fence.abandonedWrites >= 1, "the slow write was abandoned and fenced");
    assert.ok(
      program.logLines.some((l) => l.includes("main write timed out")),
      "the fenced write is logged",
    );
    const metrics = parsePrometheus((await api(base, "GET", "/metrics")).text);
    const fenced = sampleValue(metrics, "dmremap_datapath_events_total", {
      target: "d",
      event: "fenced_write",
    });
    assert.ok((fenced ?? 0) >= 1, `the fenced write is counted: ${fenced}`);
    assert.equal(await program.stop("SIGTERM"), 0);
    program = undefined;

    // After a clean stop and a restart, B is still there.
    program = await startProgram(["serve", "--config", config]);
    assert.equal(await sh(uri, readScript(10)), "fill 187", "B survives the restart");
    assert.equal(await program.stop("SIGTERM"), 0);
    program = undefined;
  } finally {
    await program?.stop("SIGKILL");
    await main.stop();
    await dir.cleanup();
  }
});
