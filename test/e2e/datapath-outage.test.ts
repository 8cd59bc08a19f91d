// End-to-end, promise 16 ("a short outage loses nothing"): main (nbdkit) fails the next N reads, as
// a dropped cable or controller does for a moment. Retries back off across the budget, so the block
// is answered, not pending; a block that did go pending in a long outage is cleared once it reads back.
import { test } from "node:test";
import assert from "node:assert/strict";
import { startProgram, tempDir, type RunningProgram } from "./harness.js";
import { datapathTarget } from "./datapath-support.js";
import { startSlowMain } from "./slow-main.js";
import { api, nbdsh, requireTools } from "./tools.js";

const BLOCK = 4096;

async function readFill(uri: string, block: number): Promise<string> {
  const result = await nbdsh(
    uri,
    `
try:
    data = h.pread(${BLOCK}, ${block * BLOCK})
    print("fill", data[0] if data == bytes([data[0]]) * ${BLOCK} else "mixed")
except nbd.Error as e:
    print("errno", e.errno)
`,
    30_000,
  );
  assert.equal(result.code, 0, result.stderr);
  return result.stdout.trim();
}

interface Status {
  pendingBlocks: number;
  remappedBlocks: number;
  retries: { read: number };
}

test("promise 16: an outage of several reads marks nothing pending; a pending block that reads back is cleared", async () => {
  await requireTools("nbdkit", "nbdsh");
  const dir = await tempDir();
  const main = await startSlowMain(dir.path, 16 << 20, 1000);
  let program: RunningProgram | undefined;
  try {
    const { config, uri, base } = await datapathTarget(dir.path, {
      name: "o",
      main: main.uri,
      spareBytes: 4 << 20,
      policy: { read_retry_budget: "1s" },
    });
    const status = async () => (await api(base, "GET", "/v1/targets/o")).json as Status;
    program = await startProgram(["serve", "--config", config]);
    const fill = await nbdsh(
      uri,
      `for b in range(16):\n    h.pwrite(bytes([b + 1]) * ${BLOCK}, b * ${BLOCK})\nh.flush()`,
    );
    assert.equal(fill.code, 0, fill.stderr);

    // Six failed reads in a row: more than the old back-to-back retries could ride out.
    await main.failReads(6);
    assert.equal(await readFill(uri, 3), "fill 4", "the block is answered once main is back");
    let st = await status();
    assert.equal(st.pendingBlocks, 0);
    assert.equal(st.remappedBlocks, 0, "one outage is no reason to spend a spare");
    assert.ok(st.retries.read >= 6, `retries: ${st.retries.read}`);

    // An outage longer than the whole budget: this request fails and the block is pending...
    await main.failReads(100_000);
    assert.equal(await readFill(uri, 7), "errno EIO");
    assert.equal((await status()).pendingBlocks, 1);
    // ...until main is back and the data reads back: then the mark is cleared, and said so.
    await main.failReads(0);
    assert.equal(await readFill(uri, 7), "fill 8");
    st = await status();
    assert.equal(st.pendingBlocks, 0);
    const line = program.logLines.find((l) => l.includes("pending block cleared"));
    assert.ok(line?.includes("read-back"), `one log line says why: ${line}`);
    assert.equal(await program.stop("SIGTERM"), 0);
    program = undefined;
  } finally {
    await program?.stop("SIGKILL");
    await main.stop();
    await dir.cleanup();
  }
});
