// End-to-end, promise 4 ("transient errors do not burn spares"): main fails 1 % of its reads at
// random (seeded fault layer). A full read of the export with fio succeeds and moves no block to a
// spare: a read that recovers on retry is one occasion, and the default policy migrates after two.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { datapathTarget } from "./datapath-support.js";
import { startProgram, tempDir, type RunningProgram } from "./harness.js";
import { api, fio, requireTools, sparseFile } from "./tools.js";

interface Status {
  remappedBlocks: number;
  pendingBlocks: number;
  errors: { read: number };
  transient?: { recoveredKept: number };
}

test("promise 4: 1 % transient read errors on main: a full read migrates no block", async () => {
  await requireTools("fio");
  const dir = await tempDir();
  let program: RunningProgram | undefined;
  try {
    const main = await sparseFile(join(dir.path, "main.img"), 64 << 20);
    const { config, uri, base } = await datapathTarget(dir.path, {
      name: "t",
      main: `random:read=0.01,seed=7:${main}`,
      spareBytes: 8 << 20,
    });
    program = await startProgram(["serve", "--config", config]);
    const scan = await fio(uri, ["--name=scan", "--rw=read", "--bs=4k", "--size=64m", "--iodepth=8"]);
    assert.match(scan.stdout, /err= 0/, scan.stdout);
    const st = (await api(base, "GET", "/v1/targets/t")).json as Status;
    console.log(
      `fio read of 64 MiB, 1 % transient errors: ${st.errors.read} failed main reads, ` +
        `${st.transient?.recoveredKept} recovered reads kept on main, ${st.remappedBlocks} migrated`,
    );
    assert.ok(st.errors.read > 50, `main did fail reads: ${st.errors.read}`);
    assert.equal(st.remappedBlocks, 0, "no spare spent on a transient error");
    assert.equal(st.pendingBlocks, 0);
    assert.equal(await program.stop("SIGTERM"), 0);
    program = undefined;
  } finally {
    await program?.stop("SIGKILL");
    await dir.cleanup();
  }
});
