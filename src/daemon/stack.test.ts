import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { assembleTarget, createTarget, readSetIdentity } from "./stack.js";
import { controlTarget, targetStatus } from "./control-target.js";
import { readBytes } from "../block/base-device.js";

async function withDir(use: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "dmremap-stack-"));
  try {
    await use(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test("a created set records its main spec and reassembles from its spares alone", () =>
  withDir(async (dir) => {
    const main = join(dir, "main.img");
    const spare = join(dir, "spare.img");
    const created = await createTarget(
      { name: "t0", main, spares: [spare], blockSize: 4096 },
      { createMainBytes: 8 << 20, createSpareBytes: 2 << 20 },
    );
    await created.device.write(8192, Buffer.alloc(4096, 0x5a), { fua: true });
    await created.close();

    const identity = await readSetIdentity([spare]);
    assert.equal(identity.mainSpec, main);
    assert.equal(identity.name, "t0");

    const again = await assembleTarget({ name: "t0", spares: [spare] });
    try {
      assert.deepEqual(await readBytes(again.device, 8192, 4096), Buffer.alloc(4096, 0x5a));
      const status = targetStatus(again);
      assert.equal(status.sizeBytes, 8 << 20);
      assert.equal(status.errors.read, 0);
      assert.equal(status.errors.write, 0);
      assert.equal(status.state, "healthy");
      assert.equal(again.faults, undefined);
    } finally {
      await again.close();
    }
  }));

test("a target with faults gets a controllable fault layer; its remaps show in the control view", () =>
  withDir(async (dir) => {
    const main = join(dir, "main.img");
    const spare = join(dir, "spare.img");
    const stack = await createTarget(
      { name: "t1", main, spares: [spare], blockSize: 4096, faults: [{ kind: "dust", blocks: [3] }] },
      { createMainBytes: 8 << 20, createSpareBytes: 2 << 20 },
    );
    try {
      const control = controlTarget("t1", "t1", stack);
      assert.ok(control.faults, "fault control present");
      assert.equal(control.faults.list()[0]?.kind, "dust");
      await stack.device.write(3 * 4096, Buffer.alloc(4096, 1));
      const page = control.list({ limit: 10 });
      assert.deepEqual(
        page.entries.map((e) => e.block),
        [3],
      );
      assert.equal(control.status().remappedBlocks, 1);
      assert.equal(control.status().errors.write > 0, true);
      await control.markPending(5);
      assert.deepEqual(control.pendingBlocks(), [5]);
      await control.clearPending(5);
      assert.deepEqual(control.pendingBlocks(), []);
    } finally {
      await stack.close();
    }
  }));

test("assembling without spares, or with a missing spare file, names the problem", async () => {
  await assert.rejects(assembleTarget({ name: "x", spares: [] }), /at least one spare device/);
  await assert.rejects(
    assembleTarget({ name: "x", spares: ["/nonexistent/spare.img"] }),
    /\/nonexistent\/spare\.img/,
  );
});
