// The ControlTarget contract run against the real control target: controlTarget() over a
// RemappedDevice on memory devices with the real metadata store.
import assert from "node:assert/strict";
import { test } from "node:test";
import { FaultDevice } from "../block/fault-device.js";
import { MemoryDevice } from "../block/memory-device.js";
import { createSet } from "../metadata/create-set.js";
import { openRemappedDevice } from "../remap/remapped-device.js";
import { controlTargetContract } from "./control-target.contract.js";
import { controlTarget } from "./control-target.js";
import { createApiServer } from "./http-api.js";
import { createLogger } from "./logger.js";

const BLOCK_BYTES = 4096;
/** The contract wants a few spare slots, so it can run the pool dry. */
const SPARE_SLOTS = 16;

/** Bytes a spare needs for its metadata areas with this geometry (measured on a big spare). */
async function metadataBytes(blocks: number): Promise<number> {
  const main = new MemoryDevice({ sizeBytes: blocks * BLOCK_BYTES });
  const spare = new MemoryDevice({ sizeBytes: 8 << 20 });
  const opened = await createSet({
    main,
    spares: [spare],
    blockSize: BLOCK_BYTES,
    name: "t",
    journalBytes: 16384,
  });
  await opened.store.close();
  return spare.sizeBytes - opened.store.identity.spares[0]!.slotCount * BLOCK_BYTES;
}

/** A real target of `blocks` blocks with SPARE_SLOTS spare slots. */
async function makeRealTarget(blocks: number, options: { faults?: boolean } = {}) {
  const media = new MemoryDevice({ sizeBytes: blocks * BLOCK_BYTES, name: "main" });
  const faults = options.faults ? new FaultDevice(media, { rules: [] }) : undefined;
  const main = faults ?? media;
  const spare = new MemoryDevice({
    sizeBytes: (await metadataBytes(blocks)) + SPARE_SLOTS * BLOCK_BYTES,
    name: "spare0",
  });
  const opened = await createSet({
    main,
    spares: [spare],
    blockSize: BLOCK_BYTES,
    name: "t",
    journalBytes: 16384,
  });
  const device = openRemappedDevice({ main, spares: [spare], opened });
  const target = controlTarget("t", "t", {
    device,
    main,
    spares: [spare],
    opened,
    ...(faults ? { faults } : {}),
    close: () => device.close(),
  });
  return {
    target,
    makeReadOnly: (reason: string) => device.enterReadOnly(reason),
    close: () => device.close(),
  };
}

controlTargetContract("real target on memory devices", makeRealTarget);

test("POST /v1/targets/NAME/unremap of a block that is not remapped answers 409 EBLOCKSTATE, not 500", async () => {
  const real = await makeRealTarget(64);
  const logged: string[] = [];
  const server = createApiServer({
    targets: () => [real.target],
    token: "t0ken",
    logger: createLogger({ stream: { write: (line: string) => void logged.push(line) } }),
  });
  const addr = await server.start("tcp:127.0.0.1:0");
  try {
    assert.equal(addr.kind, "tcp");
    const reply = await fetch(
      `http://127.0.0.1:${addr.kind === "tcp" ? addr.port : 0}/v1/targets/t/unremap`,
      {
        method: "POST",
        headers: { "content-type": "application/json", authorization: "Bearer t0ken" },
        body: JSON.stringify({ blocks: [7] }),
      },
    );
    const problem = (await reply.json()) as Record<string, unknown>;
    assert.equal(reply.status, 409);
    assert.equal(problem.code, "EBLOCKSTATE");
    assert.match(String(problem.detail), /unremap of block 7 failed: t: block 7: is not remapped/);
    assert.deepEqual(
      logged.filter((l) => JSON.parse(l).level === "error"),
      [],
      "a user error is not logged as a bug",
    );
  } finally {
    await server.stop();
    await real.close();
  }
});
