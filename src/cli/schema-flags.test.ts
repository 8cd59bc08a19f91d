// Policy flags of `serve` come from the same schema as the config keys: one flag per knob, the same
// bounds, and errors that name the flag.
import { test } from "node:test";
import assert from "node:assert/strict";
import { stringify } from "smol-toml";
import { parseConfig } from "../daemon/config.js";
import { REMAP_POLICY_SCHEMA } from "../remap/remap-policy.js";
import { serveCommand } from "./cmd-serve.js";
import { flagError, policyFromFlags, policyOptions } from "./schema-flags.js";
import { UsageError } from "./errors.js";

test("serve has one flag per remap-policy knob", () => {
  const flags = Object.keys(policyOptions());
  assert.equal(flags.length, REMAP_POLICY_SCHEMA.length);
  for (const flag of flags) assert.ok(serveCommand.options[flag], `serve --${flag}`);
  assert.ok(flags.includes("migrate-after-failed-reads"));
  assert.ok(flags.includes("read-retry-budget"));
});

function configFrom(values: Record<string, string>) {
  const policy = policyFromFlags({ values });
  const raw = { target: [{ name: "t", main: "/m", spares: ["/s"], policy }] };
  try {
    return parseConfig(stringify(raw), "command line");
  } catch (err) {
    throw flagError(err);
  }
}

test("flag values are typed and validated by the config schema", () => {
  const config = configFrom({
    "migrate-after-failed-reads": "4",
    "read-retry-budget": "2s",
    "migrate-on-recovered-read": "false",
  });
  const policy = config.targets[0]!.policy;
  assert.equal(policy.migrateAfterFailedReads, 4);
  assert.equal(policy.readRetryBudgetMs, 2000);
  assert.equal(policy.migrateOnRecoveredRead, false);
});

test("a bad flag value is a usage error that names the flag", () => {
  assert.throws(
    () => configFrom({ "write-retries": "11" }),
    (err: unknown) =>
      err instanceof UsageError && err.message === "--write-retries: 11 is above the maximum 10",
  );
  assert.throws(
    () => configFrom({ "migrate-on-recovered-read": "maybe" }),
    (err: unknown) =>
      err instanceof UsageError &&
      /--migrate-on-recovered-read "maybe" is not true or false/.test(err.message),
  );
  assert.throws(
    () => configFrom({ "read-retries": "many" }),
    (err: unknown) =>
      err instanceof UsageError && /--read-retries "many" is not an integer/.test(err.message),
  );
});
