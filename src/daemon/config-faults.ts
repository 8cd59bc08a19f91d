// The [target.faults] config table, derived from the fault-kind registry: one optional sub-table per
// kind ([target.faults.dust], ...) whose keys are the kind's options in snake_case, and the rules it asks for.
import { FaultRuleError, normalizeFaultRule, type FaultRuleConfig } from "../block/fault-rules.js";
import { kindSummary } from "../block/faults/fault-docs.js";
import { tomlKey, type FaultKind, type OptionDef } from "../block/faults/fault-kind.js";
import { faultKinds } from "../block/faults/registry.js";
import type { FieldSchema, TableSchema } from "./config-schema.js";
import type { ConfigIssue } from "./errors.js";

/** [target.faults] as parsed: `enabled`, and per configured kind its options by canonical name. */
export interface FaultsConfig {
  readonly enabled: true;
  readonly [kind: string]: unknown;
}

/** The option that defaults to the target's block_size instead of the kind's own default. */
const TARGET_BLOCK_SIZE_OPTION = "blockSize";
const MAX_LIST_ITEMS = 1 << 20;

function field(name: string, def: OptionDef<unknown>): FieldSchema {
  const type = def.type;
  const fromTarget = name === TARGET_BLOCK_SIZE_OPTION;
  const numeric = ["integer", "number", "duration", "integer-list"].includes(type.toml);
  const min = def.min ?? (numeric ? 0 : undefined);
  const max = def.max ?? (type.name === "rate" ? 1 : undefined);
  return {
    key: tomlKey(name),
    prop: name,
    type: type.toml,
    ...(def.default !== undefined && !fromTarget ? { default: type.toToml(def.default) } : {}),
    ...(def.required ? { required: true } : {}),
    ...(min !== undefined ? { min } : {}),
    ...(max !== undefined ? { max } : {}),
    ...(type.values ? { values: type.values } : {}),
    ...(type.list ? { maxItems: MAX_LIST_ITEMS } : {}),
    help: fromTarget ? `${def.help}; default: the target's block_size` : def.help,
  };
}

/** The config table of one kind: [target.faults.KIND]. */
export function kindTable(kind: FaultKind): TableSchema {
  return {
    key: kind.name,
    optional: true,
    help: `${kindSummary(kind).slice(0, -1)} (options as in docs/DEVICE-SPECS.md).`,
    fields: Object.entries(kind.options).map(([name, def]) => field(name, def)),
  };
}

/** [target.faults]: `enabled` plus one sub-table per registered kind (read from the registry when used). */
export const FAULTS_TABLE: TableSchema = {
  key: "faults",
  optional: true,
  help:
    "Fault injection between main and the remap layer, for test setups only; enables the fault API of the target. " +
    "Each sub-table adds one rule of that kind; rules apply in the order of the sub-tables below.",
  // prettier-ignore
  fields: [
    { key: "enabled", type: "boolean", default: false, help: "Build the fault layer and expose /v1/targets/NAME/faults." },
  ],
  get tables(): readonly TableSchema[] {
    return faultKinds().map(kindTable);
  },
};

/** The fault rules a [target.faults] table asks for, in registry order (may be empty). */
export function faultRulesFromConfig(faults: FaultsConfig, blockSize: number): FaultRuleConfig[] {
  const rules: FaultRuleConfig[] = [];
  for (const kind of faultKinds()) {
    const table = faults[kind.name] as Record<string, unknown> | undefined;
    if (table === undefined) continue;
    const fromTarget =
      Object.hasOwn(kind.options, TARGET_BLOCK_SIZE_OPTION) && table[TARGET_BLOCK_SIZE_OPTION] === undefined;
    rules.push({
      kind: kind.name,
      ...table,
      ...(fromTarget ? { [TARGET_BLOCK_SIZE_OPTION]: blockSize } : {}),
    });
  }
  return rules;
}

/** Problems of the rules a faults table asks for (checks across options), keyed by TOML path. */
export function faultConfigIssues(faults: FaultsConfig, blockSize: number, keyPath: string): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  for (const rule of faultRulesFromConfig(faults, blockSize)) {
    try {
      normalizeFaultRule(rule, Infinity, "toml");
    } catch (err) {
      if (!(err instanceof FaultRuleError)) throw err;
      issues.push({ keyPath: `${keyPath}.${rule.kind}.${err.field}`, message: err.message });
    }
  }
  return issues;
}
