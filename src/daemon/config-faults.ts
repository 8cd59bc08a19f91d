// Turns a target's [target.faults] table into the fault rules of the block layer's fault device.

import type { FaultRuleConfig } from "../block/fault-rules.js";
import type { FaultsConfig } from "./config.js";

/** The fault rules a [target.faults] table asks for (only the kinds it sets; may be empty). */
export function faultRulesFromConfig(faults: FaultsConfig, blockSize: number): FaultRuleConfig[] {
  const rules: FaultRuleConfig[] = [];
  if (faults.dustBlocks.length > 0) {
    rules.push({ kind: "dust", blockSize, blocks: [...faults.dustBlocks], heal: faults.dustHeal });
  }
  if (faults.readErrorRate > 0 || faults.writeErrorRate > 0 || faults.flushErrorRate > 0) {
    rules.push({
      kind: "random",
      readErrorRate: faults.readErrorRate,
      writeErrorRate: faults.writeErrorRate,
      flushErrorRate: faults.flushErrorRate,
      seed: faults.seed,
    });
  }
  if (faults.readDelayMs > 0 || faults.writeDelayMs > 0) {
    rules.push({ kind: "delay", readDelayMs: faults.readDelayMs, writeDelayMs: faults.writeDelayMs });
  }
  if (faults.flakeyDownMs > 0) {
    rules.push({
      kind: "flakey",
      upMs: faults.flakeyUpMs,
      downMs: faults.flakeyDownMs,
      modes: [...faults.flakeyModes],
    });
  }
  return rules;
}
