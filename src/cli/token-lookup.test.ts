// The CLI finds the API token in the documented order: --token-file, DMREMAP_TOKEN (the token
// itself), the config's api.token_file, the demo's data/api-token; a bad --token-file is an error.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UsageError } from "./errors.js";
import { findApiToken } from "./token-lookup.js";

const dir = mkdtempSync(join(tmpdir(), "dmremap-token-"));
test.after(() => rmSync(dir, { recursive: true, force: true }));
const flagFile = join(dir, "flag-token");
const configTokenFile = join(dir, "config-token");
const config = join(dir, "dmremap.toml");
writeFileSync(flagFile, "from-the-flag-file\n");
writeFileSync(configTokenFile, "from-the-config-token-file\n");
writeFileSync(
  config,
  `[api]\ntoken_file = "${configTokenFile}"\n[[target]]\nname = "t"\nmain = "mem:1M"\nspares = ["mem:1M"]\n`,
);
mkdirSync(join(dir, "data"));
writeFileSync(join(dir, "data", "api-token"), "from-the-demo\n");
const missingConfig = join(dir, "absent.toml");

test("each source wins over the ones after it", () => {
  const env = { DMREMAP_TOKEN: "from-env", DMREMAP_CONFIG: config };
  assert.deepEqual(findApiToken({ tokenFile: flagFile, env, cwd: dir }), {
    token: "from-the-flag-file",
    source: `--token-file ${flagFile}`,
  });
  assert.deepEqual(findApiToken({ env, cwd: dir }), { token: "from-env", source: "DMREMAP_TOKEN" });
  assert.deepEqual(findApiToken({ env: { DMREMAP_CONFIG: config }, cwd: dir }), {
    token: "from-the-config-token-file",
    source: `api.token_file of ${config}`,
  });
  assert.deepEqual(findApiToken({ env: { DMREMAP_CONFIG: missingConfig }, cwd: dir }), {
    token: "from-the-demo",
    source: join(dir, "data", "api-token"),
  });
});

test("DMREMAP_DATA moves the demo's token; no source at all gives undefined", () => {
  const elsewhere = join(dir, "elsewhere");
  mkdirSync(elsewhere);
  writeFileSync(join(elsewhere, "api-token"), "moved\n");
  assert.equal(
    findApiToken({ env: { DMREMAP_CONFIG: missingConfig, DMREMAP_DATA: elsewhere }, cwd: "/" })?.token,
    "moved",
  );
  assert.equal(findApiToken({ env: { DMREMAP_CONFIG: missingConfig }, cwd: "/nonexistent" }), undefined);
});

test("a broken config or unreadable token_file is skipped; a bad --token-file names the file", () => {
  const broken = join(dir, "broken.toml");
  writeFileSync(broken, "[api\n");
  assert.equal(findApiToken({ env: { DMREMAP_CONFIG: broken }, cwd: dir })?.token, "from-the-demo");
  assert.throws(
    () => findApiToken({ tokenFile: join(dir, "nope"), env: {} }),
    (err: unknown) =>
      err instanceof UsageError && err.message.includes(join(dir, "nope")) && /ENOENT/.test(err.message),
  );
  const empty = join(dir, "empty");
  writeFileSync(empty, "\n");
  assert.throws(() => findApiToken({ tokenFile: empty, env: {} }), /is empty/);
});
