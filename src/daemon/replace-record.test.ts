// The replace record: written atomically and read back, absent reads as undefined, junk is refused
// with the file named.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  readReplaceRecord,
  removeReplaceRecord,
  replaceRecordPath,
  writeReplaceRecord,
  type ReplaceRecord,
} from "./replace-record.js";

test("a replace record round-trips, is removed, and junk is refused naming the file", async () => {
  const dir = await mkdtemp(join(tmpdir(), "replace-record-"));
  try {
    const path = replaceRecordPath(join(dir, "state"), "0a1b2c3d-0000-4000-8000-000000000001");
    assert.equal(await readReplaceRecord(path), undefined);
    const record: ReplaceRecord = {
      format: "dmremap-replace",
      version: 1,
      setUuid: "0a1b2c3d-0000-4000-8000-000000000001",
      target: "disk0",
      newSpec: "/dev/sde",
      newIdentity: { kind: "memory", sizeBytes: 1 << 20 },
      oldSpec: "/dev/sdb",
      checkpoint: { phase: "copying", cursorBlock: 64, retryBlocks: [7], skippedPending: [9] },
    };
    await writeReplaceRecord(path, record);
    await writeReplaceRecord(path, { ...record, checkpoint: { ...record.checkpoint, cursorBlock: 128 } });
    assert.equal((await readReplaceRecord(path))?.checkpoint.cursorBlock, 128);
    // The blocks a user rewrote and the copy request size survive the round trip.
    await writeReplaceRecord(path, {
      ...record,
      chunkBytes: 256 << 10,
      checkpoint: { ...record.checkpoint, rewrittenBlocks: [7] },
    });
    const again = await readReplaceRecord(path);
    assert.deepEqual([again?.chunkBytes, again?.checkpoint.rewrittenBlocks], [256 << 10, [7]]);
    await writeFile(
      path,
      JSON.stringify({ ...record, checkpoint: { ...record.checkpoint, rewrittenBlocks: ["7"] } }),
    );
    await assert.rejects(readReplaceRecord(path), { code: "EFORMAT" });
    await removeReplaceRecord(path);
    assert.equal(await readReplaceRecord(path), undefined);
    await writeFile(path, '{"format":"something-else"}');
    await assert.rejects(readReplaceRecord(path), {
      code: "EFORMAT",
      message: /replace\.json: line 1: not a replace record/,
    });
    assert.throws(() => replaceRecordPath(dir, "../etc"), /not a uuid/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
