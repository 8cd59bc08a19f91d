// Tests of reading the API token file: trimming, permission and length checks.

import assert from "node:assert/strict";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { loadApiToken } from "./api-token.js";

describe("loadApiToken", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "dmremap-token-"));
  });
  after(() => rm(dir, { recursive: true }));

  async function tokenFile(name: string, text: string, mode: number): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, text);
    await chmod(path, mode);
    return path;
  }

  it("reads a private token file and trims it", async () => {
    const path = await tokenFile("ok", "  0123456789abcdef0123\n", 0o600);
    assert.equal(await loadApiToken(path), "0123456789abcdef0123");
  });

  it("refuses files others can read, short tokens, whitespace and missing files", async () => {
    const open = await tokenFile("open", "0123456789abcdef0123\n", 0o644);
    await assert.rejects(loadApiToken(open), {
      code: "ECONFIG",
      message: `${open}: api.token_file: ${open} is accessible by group or others (mode 644); chmod 600 it`,
    });
    await assert.rejects(
      loadApiToken(await tokenFile("short", "abc\n", 0o600)),
      /shorter than 16 characters/,
    );
    await assert.rejects(
      loadApiToken(await tokenFile("ws", "0123456789 abcdef0123", 0o600)),
      /contains whitespace/,
    );
    await assert.rejects(loadApiToken(join(dir, "none")), /api\.token_file: cannot read .*none: ENOENT/);
  });
});
