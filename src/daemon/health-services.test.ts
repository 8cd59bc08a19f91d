import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readSuspects, suspectsPath, writeSuspects } from "../formats/suspects.js";
import { importedSuspectsOf } from "./health-services.js";

test("the scanner's imported suspects are the formats suspects file; read blocks leave it", async () => {
  const dir = await mkdtemp(join(tmpdir(), "dmremap-health-services-"));
  try {
    const uuid = "0a1b2c3d-0000-4000-8000-000000000001";
    const imported = importedSuspectsOf(uuid, 4096, dir);
    assert.deepEqual(await imported.read(), [], "no file: nothing imported");
    await writeSuspects(suspectsPath(dir, uuid), uuid, 4096, [30, 10, 20]);
    assert.deepEqual(await imported.read(), [10, 20, 30]);
    await imported.done([10, 30]);
    assert.deepEqual(await readSuspects(suspectsPath(dir, uuid)), [20]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
