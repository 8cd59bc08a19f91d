// End-to-end: a remote main (nbdkit) restarted under load. nbdkit answers ESHUTDOWN while it finishes
// a slow in-flight write and keeps the connection open until the client hangs up; dmremap's NBD client
// must take ESHUTDOWN as "reconnect now", re-send, and answer within the request deadline.
import { test } from "node:test";
import assert from "node:assert/strict";
import { startProgram, tempDir, type RunningProgram } from "./harness.js";
import { datapathTarget } from "./datapath-support.js";
import { startSlowMain } from "./slow-main.js";
import { api, nbdsh, requireTools, waitForFile } from "./tools.js";

const BLOCK = 4096;

test("a restarted remote main costs one reconnect: ESHUTDOWN means reconnect, never EIO or a remap", async () => {
  await requireTools("nbdkit", "nbdsh");
  const dir = await tempDir();
  const main = await startSlowMain(dir.path, 16 << 20, 3000);
  let program: RunningProgram | undefined;
  try {
    const { config, uri, base } = await datapathTarget(dir.path, {
      name: "r",
      main: main.uri,
      spareBytes: 4 << 20,
      nbd: { request_deadline: "12s" },
      policy: { read_retry_budget: "1s", main_write_timeout: "300ms" },
    });
    program = await startProgram(["serve", "--config", config]);
    const put = await nbdsh(uri, `h.pwrite(bytes([0x20]) * ${BLOCK}, ${20 * BLOCK}); h.flush()`);
    assert.equal(put.code, 0, put.stderr);

    // nbdkit is busy with a slow write when it is told to stop: it answers ESHUTDOWN from now on.
    await main.slow();
    const slowWrite = nbdsh(uri, `h.pwrite(bytes([0x30]) * ${BLOCK}, ${30 * BLOCK})`);
    await waitForFile(main.startedMarker, 20_000);
    await main.fast();
    main.current().child.kill("SIGTERM");
    const read = nbdsh(
      uri,
      `
try:
    print("fill", h.pread(${BLOCK}, ${20 * BLOCK})[0])
except nbd.Error as e:
    print("errno", e.errno)
`,
      30_000,
    );
    // The old nbdkit exits once dmremap hangs up and the slow write is done; a new one takes over.
    await main.current().exited;
    await main.restart();
    const answer = await read;
    assert.equal(answer.code, 0, answer.stderr);
    assert.equal(answer.stdout.trim(), "fill 32", "the read is answered after the reconnect, not EIO");
    assert.equal((await slowWrite).code, 0);

    const status = (await api(base, "GET", "/v1/targets/r")).json as {
      pendingBlocks: number;
      main: { reconnects?: number; shutdownReplies?: number; lower?: { reconnects?: number } };
    };
    const reconnects = status.main.reconnects ?? status.main.lower?.reconnects ?? 0;
    assert.ok(reconnects >= 1, `the client reconnected: ${JSON.stringify(status.main)}`);
    assert.equal(status.pendingBlocks, 0, "a disconnected remote is never a media error");
    assert.equal(await program.stop("SIGTERM"), 0);
    program = undefined;
  } finally {
    await program?.stop("SIGKILL");
    await main.stop();
    await dir.cleanup();
  }
});
