// Unit tests of the remap policy schema: defaults, validation messages naming the bad value.
import { test } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_REMAP_POLICY, REMAP_POLICY_SCHEMA, resolveRemapPolicy } from "./remap-policy.js";

test("defaults match the schema", () => {
  assert.equal(DEFAULT_REMAP_POLICY.writeRetries, 2);
  assert.equal(DEFAULT_REMAP_POLICY.readRetries, 3);
  assert.equal(DEFAULT_REMAP_POLICY.readRetryBudgetMs, 5000);
  assert.equal(DEFAULT_REMAP_POLICY.migrateOnRecoveredRead, true);
  for (const f of REMAP_POLICY_SCHEMA) assert.equal(DEFAULT_REMAP_POLICY[f.key], f.default);
});

test("bad values are named", () => {
  assert.throws(
    () => resolveRemapPolicy({ writeRetries: 11 }),
    /writeRetries = 11 is not an integer in 0\.\.10/,
  );
  assert.throws(() => resolveRemapPolicy({ readRetryBudgetMs: 1.5 }), /readRetryBudgetMs = 1.5/);
  assert.throws(() => resolveRemapPolicy({ migrateOnRecoveredRead: "yes" }), /not a boolean/);
  assert.throws(() => resolveRemapPolicy({ bogus: 1 } as never), /unknown remap policy option "bogus"/);
  assert.equal(resolveRemapPolicy({ readRetries: 0 }).readRetries, 0);
});
