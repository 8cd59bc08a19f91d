// The suspects side file: missing file is empty, writes are atomic and merged, bad content is refused.
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { FormatSyntaxError } from "./errors.js";
import { addSuspects, readSuspects, suspectsPath } from "./suspects.js";

const UUID = "0b3e2c1a-1111-4222-8333-444455556666";

describe("suspects file", async () => {
  const dir = await mkdtemp(join(tmpdir(), "dmremap-suspects-"));
  after(() => rm(dir, { recursive: true, force: true }));

  it("is empty when missing, merges additions, and is plain JSON", async () => {
    const path = suspectsPath(join(dir, "state"), UUID);
    assert.deepEqual(await readSuspects(path), []);
    assert.deepEqual(await addSuspects(path, UUID, 4096, [9, 3]), [3, 9]);
    assert.deepEqual(await addSuspects(path, UUID, 4096, [3, 5]), [3, 5, 9]);
    const content = JSON.parse(await readFile(path, "utf8")) as Record<string, unknown>;
    assert.deepEqual(content, {
      format: "dmremap-suspects",
      version: 1,
      setUuid: UUID,
      blockSize: 4096,
      blocks: [3, 5, 9],
    });
  });

  it("refuses a file that is not a suspects file, naming it", async () => {
    const path = join(dir, "bad.json");
    await writeFile(path, '{"blocks": [1, -2], "format": "dmremap-suspects"}');
    await assert.rejects(
      readSuspects(path),
      (err: unknown) => err instanceof FormatSyntaxError && err.message.includes("block -2"),
    );
    await writeFile(path, "nope");
    await assert.rejects(readSuspects(path), /bad\.json: line 1: not JSON/);
  });

  it("refuses a set uuid that could escape the directory", () => {
    assert.throws(() => suspectsPath(dir, "../etc"), /is not a uuid/);
  });
});
