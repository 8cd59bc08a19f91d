// Tests of the [target.faults] tables (derived from the fault-kind registry) -> fault rules mapping,
// checked by the block layer's own rule validation.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { normalizeFaultRule } from "../block/fault-rules.js";
import { faultKinds } from "../block/faults/registry.js";
import { FAULTS_TABLE, faultRulesFromConfig } from "./config-faults.js";
import { parseConfig } from "./config.js";
import { ConfigError } from "./errors.js";

const TARGET = `[[target]]\nname = "t"\nmain = "m"\nspares = ["s"]\nblock_size = 8192\n[target.faults]\nenabled = true\n`;

function rulesOf(faults: string) {
  const config = parseConfig(TARGET + faults, "x").targets[0]!;
  return faultRulesFromConfig(config.faults!, config.blockSize);
}

function issueOf(faults: string): string {
  try {
    parseConfig(TARGET + faults, "x");
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.message;
  }
  assert.fail("config was accepted");
}

describe("faultRulesFromConfig", () => {
  it("yields no rule for an enabled but empty faults table", () => {
    assert.deepEqual(rulesOf(""), []);
  });

  it("yields one rule per configured kind, in registry order, valid for the fault layer", () => {
    const rules = rulesOf(
      [
        "[target.faults.flakey]",
        'up = "1s"',
        'down = "500ms"',
        'modes = ["drop-writes"]',
        "[target.faults.dust]",
        "blocks = [5, 9]",
        "heal = true",
        "[target.faults.random]",
        "read = 0.25",
        "seed = 7",
        "[target.faults.delay]",
        'read = "20ms"',
        "[target.faults.grow]",
        "blocks = [100]",
        "per_hour = 6",
        'events = ["10m@5", "1h@7-9"]',
        "[target.faults.slow]",
        "blocks = [3]",
        "attempts = 3",
        'delay = "28s"',
        "writes = true",
      ].join("\n"),
    );
    assert.deepEqual(
      rules.map((r) => r.kind),
      ["dust", "flakey", "random", "delay", "grow", "slow"],
    );
    assert.deepEqual(rules[0], { kind: "dust", blockSize: 8192, blocks: [5, 9], heal: true });
    assert.deepEqual(rules[1], {
      kind: "flakey",
      up: 1000,
      down: 500,
      modes: ["drop-writes"],
      corruptOffset: 0,
    });
    assert.deepEqual(rules[2], { kind: "random", read: 0.25, write: 0, flush: 0, seed: 7 });
    assert.deepEqual(rules[3], { kind: "delay", read: 20, write: 0 });
    assert.equal(rules[4]!.blockSize, 8192, "block_size defaults to the target's");
    assert.deepEqual(rules[4]!.events, ["10m@5", "1h@7-9"]);
    assert.deepEqual(rules[5], {
      kind: "slow",
      blockSize: 8192,
      blocks: [3],
      delay: 28_000,
      attempts: 3,
      writes: true,
    });
    for (const rule of rules) assert.doesNotThrow(() => normalizeFaultRule(rule, 1024 * 8192));
  });

  it("names the TOML key path of a bad or unknown option", () => {
    assert.match(
      issueOf("[target.faults.random]\nread = 2\n"),
      /target\[0\]\.faults\.random\.read: 2 is above the maximum 1/,
    );
    assert.match(
      issueOf("[target.faults.random]\nread_error_rate = 0.5\n"),
      /target\[0\]\.faults\.random\.read_error_rate: unknown key/,
    );
    assert.match(
      issueOf('[target.faults.delay]\nrange = "1M"\n'),
      /target\[0\]\.faults\.delay\.range: delay option "range": "1M" is not a byte range OFFSET\+LENGTH/,
    );
    assert.match(
      issueOf('[target.faults.grow]\nevents = ["soon@5"]\n'),
      /target\[0\]\.faults\.grow\.events: grow option "events": "soon" is not a duration/,
    );
    assert.match(
      issueOf("[target.faults.slow]\nattempts = 2\n"),
      /target\[0\]\.faults\.slow\.blocks: required key is missing/,
    );
    assert.match(issueOf("[target.faults.meteor]\nsize = 1\n"), /target\[0\]\.faults\.meteor: unknown key/);
  });

  it("has one sub-table per registered kind, keyed by the snake_case option names", () => {
    const tables = FAULTS_TABLE.tables ?? [];
    assert.deepEqual(
      tables.map((t) => t.key),
      faultKinds().map((k) => k.name),
    );
    const dust = tables.find((t) => t.key === "dust")!;
    assert.deepEqual(
      dust.fields.map((f) => [f.key, f.prop, f.type]),
      [
        ["block_size", "blockSize", "integer"],
        ["blocks", "blocks", "integer-list"],
        ["heal", "heal", "boolean"],
      ],
    );
  });
});
