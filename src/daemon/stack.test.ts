import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStack, readSetIdentity } from "./stack.js";
import { writeFile } from "node:fs/promises";
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
    const created = await openStack(
      {
        name: "t0",
        main,
        spares: [spare],
        blockSize: 4096,
        createMainBytes: 8 << 20,
        createSpareBytes: 2 << 20,
      },
      { mode: "create" },
    );
    await created.device.write(8192, Buffer.alloc(4096, 0x5a), { fua: true });
    await created.close();

    const identity = await readSetIdentity([spare]);
    assert.equal(identity.mainSpec, main);
    assert.equal(identity.name, "t0");

    const again = await openStack({ name: "t0", spares: [spare] }, { mode: "serve" });
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
    const stack = await openStack(
      {
        name: "t1",
        main,
        spares: [spare],
        blockSize: 4096,
        faults: [{ kind: "dust", blocks: [3] }],
        createMainBytes: 8 << 20,
        createSpareBytes: 2 << 20,
      },
      { mode: "create" },
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
  await assert.rejects(openStack({ name: "x", spares: [] }, { mode: "serve" }), /at least one spare device/);
  await assert.rejects(
    openStack({ name: "x", spares: ["/nonexistent/spare.img"] }, { mode: "serve" }),
    /\/nonexistent\/spare\.img/,
  );
});

test("create refuses a spare that is the main, or a slice inside the main's range, naming both", () =>
  withDir(async (dir) => {
    const main = join(dir, "main.img");
    await writeFile(main, Buffer.alloc(8 << 20));
    for (const spare of [main, `slice:offset=4M:${main}`]) {
      await assert.rejects(
        openStack({ name: "x", main, spares: [spare], blockSize: 4096 }, { mode: "create" }),
        (err: Error & { code?: string }) =>
          err.code === "EOVERLAP" && err.message.includes(main) && err.message.includes(spare),
      );
    }
    // The legal layout: main is the slice before the spare.
    const ok = await openStack(
      { name: "x", main: `slice:length=6M:${main}`, spares: [`slice:offset=6M:${main}`], blockSize: 4096 },
      { mode: "create" },
    );
    await ok.close();
  }));

test("create refuses a spare holding a filesystem unless forced, and check reads every copy", () =>
  withDir(async (dir) => {
    const main = join(dir, "main.img");
    const spare = join(dir, "spare.img");
    await writeFile(main, Buffer.alloc(8 << 20));
    const ext = Buffer.alloc(2 << 20);
    ext.writeUInt16LE(0xef53, 1024 + 0x38);
    await writeFile(spare, ext);
    await assert.rejects(
      openStack({ name: "x", main, spares: [spare], blockSize: 4096 }, { mode: "create" }),
      (err: Error & { code?: string }) => err.code === "ESIGNATURE" && /ext2 filesystem/.test(err.message),
    );
    const forced = await openStack(
      { name: "x", main, spares: [spare], blockSize: 4096, force: true },
      { mode: "create" },
    );
    await forced.close();
    const { report, main: mainCheck } = await openStack({ name: "x", spares: [spare] }, { mode: "check" });
    assert.equal(report.clean, true);
    assert.equal(mainCheck.state, "ok", mainCheck.detail);
    assert.equal(report.identity.name, "x");
  }));
