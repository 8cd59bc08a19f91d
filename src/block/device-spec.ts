// The device-spec language ("dust:block=5:mem:1G"): option schemas as data and a pure parser to a tree.
// Grammar and examples: docs/DEVICE-SPECS.md. Opening a parsed tree is open-device.ts's job.
import { SpecError } from "./errors.js";
import { normalizeFaultRule, type FaultRuleConfig } from "./fault-rules.js";
import { defaultText } from "./faults/fault-docs.js";
import { specKey, type FaultKind } from "./faults/fault-kind.js";
import { faultKinds, findFaultKind } from "./faults/registry.js";
import { parseSize } from "./size.js";

/** A parsed device spec: a base device with layers stacked on it (outermost first). */
export type DeviceSpec =
  | { readonly type: "file"; readonly path: string; readonly direct?: boolean }
  | { readonly type: "mem"; readonly sizeBytes: number }
  | { readonly type: "nbd"; readonly uri: string }
  | {
      readonly type: "slice";
      readonly offsetBytes: number;
      readonly lengthBytes?: number;
      readonly lower: DeviceSpec;
    }
  | { readonly type: "fault"; readonly rules: readonly FaultRuleConfig[]; readonly lower: DeviceSpec };

/** One option of a wrapper as users see it: the schema that the parser, the docs and the help text share. */
export interface WrapperOption {
  /** Spelling in a spec (kebab-case; list options use the singular and repeat). */
  readonly key: string;
  /** Value type name ("size", "duration", "rate", ...). */
  readonly value: string;
  readonly repeatable?: boolean;
  /** Default, as shown to users. */
  readonly default: string;
  readonly help: string;
}

/** A wrapper (layer) a spec can stack, with its summary and options. */
export interface Wrapper {
  readonly summary: string;
  readonly options: readonly WrapperOption[];
}

const SLICE: Wrapper = {
  summary: "a byte range of the lower device (dm-linear), e.g. spares carved from a disk's tail",
  options: [
    { key: "offset", value: "size", default: "0", help: "first byte of the slice (multiple of 512)" },
    { key: "length", value: "size", default: "to the end", help: "length in bytes (multiple of 512)" },
  ],
};

const EMPTY_FAULT: Wrapper = {
  summary: "an empty fault layer (rules are added at runtime); takes no options",
  options: [],
};

/** The spec view of a fault kind's options (derived from its schema). */
export function kindWrapper(kind: FaultKind): Wrapper {
  return {
    summary: kind.summary,
    options: Object.entries(kind.options).map(([name, def]) => ({
      key: specKey(name, def),
      value: def.type.name,
      ...(def.type.list ? { repeatable: true } : {}),
      default: defaultText(def),
      help: def.help,
    })),
  };
}

/** Every wrapper: slice, one per registered fault kind, and the empty fault layer. */
export function wrappers(): Readonly<Record<string, Wrapper>> {
  return {
    slice: SLICE,
    ...Object.fromEntries(faultKinds().map((kind) => [kind.name, kindWrapper(kind)])),
    fault: EMPTY_FAULT,
  };
}

const NBD_SCHEMES = ["nbd", "nbds", "nbd+unix", "nbds+unix", "nbd+vsock", "nbds+vsock"];

/** A parse failure inside a spec; parseDeviceSpec turns it into a SpecError naming the spec. */
class Bad extends Error {}

type Values = Map<string, (string | undefined)[]>;

function parseArgs(wrapper: string, schema: readonly WrapperOption[], args: string): Values {
  const values: Values = new Map();
  if (args === "") return values;
  for (const item of args.split(",")) {
    if (item === "") throw new Bad(`empty ${wrapper} option in "${args}"`);
    const eq = item.indexOf("=");
    const key = eq < 0 ? item : item.slice(0, eq);
    const value = eq < 0 ? undefined : item.slice(eq + 1);
    const option = schema.find((o) => o.key === key);
    if (!option) {
      const known = schema.map((o) => o.key).join(", ") || "none";
      throw new Bad(`unknown ${wrapper} option "${key}" (known: ${known})`);
    }
    if (option.value === "flag" && value !== undefined) {
      throw new Bad(`${wrapper} option "${key}" is a flag and takes no value (got "${value}")`);
    }
    if (option.value !== "flag" && (value === undefined || value === "")) {
      throw new Bad(`${wrapper} option "${key}" needs a value (${key}=...)`);
    }
    const list = values.get(key) ?? [];
    if (list.length > 0 && !option.repeatable) throw new Bad(`${wrapper} option "${key}" is given twice`);
    values.set(key, [...list, value]);
  }
  return values;
}

/** Parse a value; on failure name `what` ("dust option \"block-size\"", "mem size") and the value. */
function typed<T>(what: string, text: string, parse: (t: string) => T): T {
  try {
    return parse(text);
  } catch (err) {
    throw new Bad(`${what}: ${(err as Error).message}`);
  }
}

function multipleOf512(what: string, bytes: number, allowZero: boolean): number {
  if (bytes % 512 !== 0 || (!allowZero && bytes === 0)) {
    throw new Bad(`${what} ${bytes} is not a ${allowZero ? "" : "positive "}multiple of 512`);
  }
  return bytes;
}

/** Build the rule of a fault wrapper from its parsed options (canonical names, typed values). */
function faultRule(kind: FaultKind, values: Values): FaultRuleConfig {
  const rule: Record<string, unknown> = { kind: kind.name };
  for (const [name, def] of Object.entries(kind.options)) {
    const key = specKey(name, def);
    const texts = values.get(key);
    if (texts === undefined) continue;
    if (def.type.flag) rule[name] = true;
    else if (def.type.list) {
      rule[name] = texts.flatMap((t) =>
        typed(`${kind.name} option "${key}"`, t!, (x) => def.type.fromText(x) as unknown[]),
      );
    } else
      rule[name] = typed(`${kind.name} option "${key}"`, texts[texts.length - 1]!, (x) =>
        def.type.fromText(x),
      );
  }
  return rule as FaultRuleConfig;
}

function validRule(rule: FaultRuleConfig): FaultRuleConfig {
  try {
    normalizeFaultRule(rule, Infinity, "spec");
  } catch (err) {
    throw new Bad((err as Error).message);
  }
  return rule;
}

function isWrapper(name: string): boolean {
  return name === "slice" || name === "fault" || findFaultKind(name) !== undefined;
}

function parseBase(text: string): DeviceSpec {
  if (text === "") throw new Bad("the base device is missing (expected PATH, mem:SIZE or an nbd:// URI)");
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(text)?.[1];
  if (scheme === undefined) return { type: "file", path: text };
  if (scheme === "file" || scheme === "file+direct") {
    const path = text.slice(scheme.length + 1);
    if (path === "") throw new Bad(`"${scheme}:" needs a path`);
    return scheme === "file" ? { type: "file", path } : { type: "file", path, direct: true };
  }
  if (scheme === "mem") {
    const sizeBytes = typed("mem size", text.slice("mem:".length), parseSize);
    return { type: "mem", sizeBytes: multipleOf512("mem size", sizeBytes, false) };
  }
  if (NBD_SCHEMES.includes(scheme)) {
    if (!text.startsWith(`${scheme}://`)) throw new Bad(`nbd URI "${text}" must start with "${scheme}://"`);
    return { type: "nbd", uri: text };
  }
  throw new Bad(
    `unknown scheme or wrapper "${scheme}" (wrappers: ${Object.keys(wrappers()).join(", ")}; ` +
      `bases: PATH, file:PATH, file+direct:PATH, mem:SIZE, nbd://...; write file:${text} for a path containing ":")`,
  );
}

function parseTree(text: string): DeviceSpec {
  const name = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(text)?.[1];
  if (name === undefined || !isWrapper(name)) return parseBase(text);
  const afterName = text.slice(name.length + 1);
  const colon = afterName.indexOf(":");
  if (colon < 0) throw new Bad(`wrapper "${name}" needs options and a lower device (${name}:OPTIONS:SPEC)`);
  const values = parseArgs(name, wrappers()[name]!.options, afterName.slice(0, colon));
  const lower = parseTree(afterName.slice(colon + 1));
  if (name === "slice") {
    const offsetBytes = values.has("offset")
      ? typed('slice option "offset"', values.get("offset")![0]!, parseSize)
      : 0;
    const length = values.get("length")?.[0];
    const lengthBytes = length === undefined ? undefined : typed('slice option "length"', length, parseSize);
    multipleOf512("slice offset", offsetBytes, true);
    if (lengthBytes !== undefined) multipleOf512("slice length", lengthBytes, false);
    return { type: "slice", offsetBytes, lengthBytes, lower };
  }
  const kind = findFaultKind(name);
  const rules = kind ? [validRule(faultRule(kind, values))] : [];
  // Consecutive fault wrappers form one fault layer (the form FaultDevice.describe() prints).
  if (lower.type === "fault") return { type: "fault", rules: [...rules, ...lower.rules], lower: lower.lower };
  return { type: "fault", rules, lower };
}

/** Parse a device spec into a tree; throws a SpecError whose message names the spec and the bad value. */
export function parseDeviceSpec(spec: string): DeviceSpec {
  try {
    return parseTree(spec.trim());
  } catch (err) {
    if (err instanceof Bad) throw new SpecError(spec, `device spec "${spec}": ${err.message}`);
    throw err;
  }
}

/** Parse one fault rule written as a wrapper without its lower device ("dust:block=5,heal"). */
export function parseFaultRule(text: string): FaultRuleConfig {
  try {
    const m = /^([a-z][a-z0-9-]*):([^:]*)$/.exec(text.trim());
    const kind = m?.[1] === undefined ? undefined : findFaultKind(m[1]);
    if (!m || kind === undefined) {
      const names = faultKinds().map((k) => k.name);
      throw new Bad(`expected KIND:OPTIONS with KIND one of ${names.join(", ")}`);
    }
    return validRule(faultRule(kind, parseArgs(kind.name, kindWrapper(kind).options, m[2]!)));
  } catch (err) {
    if (err instanceof Bad) throw new SpecError(text, `fault rule "${text}": ${err.message}`);
    throw err;
  }
}
