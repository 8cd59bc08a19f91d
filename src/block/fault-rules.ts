// Fault rules as data, for every registered kind: validation (with defaults), spec text and JSON view.
// A rule is `{ kind, ...options }` with options spelled in camelCase (the canonical names).
import { FaultRuleError } from "./faults/errors.js";
import { jsonKey, specKey, tomlKey, type FaultKind, type OptionDef } from "./faults/fault-kind.js";
import { shown } from "./faults/option-types.js";
import { faultKinds, findFaultKind } from "./faults/registry.js";

export { FaultRuleError } from "./faults/errors.js";
export { formatDuration } from "./faults/option-types.js";

/** One fault rule as data: the kind and its options by canonical (camelCase) name. */
export interface FaultRuleConfig {
  readonly kind: string;
  readonly [option: string]: unknown;
}

/** A validated rule: every option typed, defaults filled in (optional options may be undefined). */
export interface NormalizedFaultRule {
  readonly kind: string;
  readonly options: Readonly<Record<string, unknown>>;
}

/** How the caller spells option names; errors name fields the same way. */
export type Spelling = "spec" | "toml" | "json";

/** The name of option `name` of `kind` in a spelling. */
export function optionKey(spelling: Spelling, name: string, def: OptionDef<unknown>): string {
  if (spelling === "spec") return specKey(name, def);
  return spelling === "toml" ? tomlKey(name) : jsonKey(name);
}

/** The kind named `name`, or a FaultRuleError listing the known kinds. */
export function faultKindOf(name: unknown): FaultKind {
  const kind = typeof name === "string" ? findFaultKind(name) : undefined;
  if (kind) return kind;
  const known = faultKinds()
    .map((k) => k.name)
    .join(", ");
  throw new FaultRuleError(
    String(name),
    "kind",
    `"kind": ${name === undefined ? "missing" : shown(name)} is not one of ${known}`,
  );
}

function checkBounds(def: OptionDef<unknown>, value: unknown): string | undefined {
  if (typeof value !== "number") return undefined;
  if (def.min !== undefined && value < def.min) return `${value} is below the minimum ${def.min}`;
  if (def.max !== undefined && value > def.max) return `${value} is above the maximum ${def.max}`;
  return undefined;
}

/**
 * Validate a rule and fill in defaults. `sizeBytes` (the device size; Infinity when unknown) bounds
 * blocks and ranges; `spelling` is how the caller wrote the option names (errors use it).
 */
export function normalizeFaultRule(
  config: FaultRuleConfig,
  sizeBytes: number,
  spelling: Spelling = "json",
): NormalizedFaultRule {
  if (typeof config !== "object" || config === null || Array.isArray(config)) {
    throw new FaultRuleError(
      "",
      "kind",
      `a fault rule must be an object {"kind": ..., options}, got ${shown(config)}`,
    );
  }
  const kind = faultKindOf(config.kind);
  const defs = Object.entries(kind.options);
  const key = (name: string) => optionKey(spelling, name, kind.options[name]!);
  for (const given of Object.keys(config)) {
    if (given === "kind" || Object.hasOwn(kind.options, given)) continue;
    const known = defs.map(([name]) => key(name)).join(", ") || "none";
    throw new FaultRuleError(kind.name, given, `unknown ${kind.name} option "${given}" (known: ${known})`);
  }
  const options: Record<string, unknown> = {};
  for (const [name, def] of defs) {
    const raw = config[name];
    const fail = (message: string) =>
      new FaultRuleError(kind.name, key(name), `${kind.name} option "${key(name)}": ${message}`);
    if (raw === undefined || raw === null) {
      if (def.required)
        throw new FaultRuleError(kind.name, key(name), `${kind.name} option "${key(name)}" is required`);
      options[name] = def.default;
      continue;
    }
    let value: unknown;
    try {
      value = def.type.fromJson(raw);
    } catch (err) {
      if (!(err instanceof RangeError)) throw err;
      throw fail(err.message);
    }
    const outside = checkBounds(def, value);
    if (outside) throw fail(outside);
    options[name] = value;
  }
  kind.check?.(
    options as never,
    sizeBytes,
    (name, message) => new FaultRuleError(kind.name, key(name), message),
  );
  return { kind: kind.name, options };
}

/** A normalized rule as device-spec wrapper text ("dust:block-size=4K,block=5,heal"), without the lower spec. */
export function formatFaultRule(rule: NormalizedFaultRule): string {
  const kind = faultKindOf(rule.kind);
  const items: string[] = [];
  for (const [name, def] of Object.entries(kind.options)) {
    const value = rule.options[name];
    if (value === undefined) continue;
    const key = specKey(name, def);
    if (def.type.flag) {
      if (value === true) items.push(key);
      continue;
    }
    for (const text of def.type.toText(value)) items.push(`${key}=${text}`);
  }
  return `${kind.name}:${items.join(",")}`;
}

/** A normalized rule as JSON data (`{ kind, ...options }`, unset options left out); valid input again. */
export function faultRuleJson(rule: NormalizedFaultRule): FaultRuleConfig {
  const out: Record<string, unknown> = { kind: rule.kind };
  for (const [name, value] of Object.entries(rule.options)) if (value !== undefined) out[name] = value;
  return out as FaultRuleConfig;
}
