// Tests of the [target.faults] -> fault rule mapping, checked by the block layer's own rule validation.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { normalizeFaultRule } from "../block/fault-rules.js";
import { faultRulesFromConfig } from "./config-faults.js";
import { parseConfig } from "./config.js";

const TARGET = `[[target]]\nname = "t"\nmain = "m"\nspares = ["s"]\nblock_size = 8192\n[target.faults]\nenabled = true\n`;

function rulesOf(faults: string) {
  const config = parseConfig(TARGET + faults, "x").targets[0]!;
  return faultRulesFromConfig(config.faults!, config.blockSize);
}

describe("faultRulesFromConfig", () => {
  it("yields no rule for an enabled but empty faults table", () => {
    assert.deepEqual(rulesOf(""), []);
  });

  it("yields one rule per configured kind, valid for the fault layer", () => {
    const rules = rulesOf(
      [
        "seed = 7",
        "dust_blocks = [5, 9]",
        "dust_heal = true",
        "read_error_rate = 0.25",
        'read_delay = "20ms"',
        'flakey_up = "1s"',
        'flakey_down = "500ms"',
        'flakey_modes = ["drop-writes"]',
      ].join("\n"),
    );
    assert.deepEqual(rules, [
      { kind: "dust", blockSize: 8192, blocks: [5, 9], heal: true },
      { kind: "random", readErrorRate: 0.25, writeErrorRate: 0, flushErrorRate: 0, seed: 7 },
      { kind: "delay", readDelayMs: 20, writeDelayMs: 0 },
      { kind: "flakey", upMs: 1000, downMs: 500, modes: ["drop-writes"] },
    ]);
    for (const rule of rules) assert.doesNotThrow(() => normalizeFaultRule(rule, 1024 * 8192));
  });
});
