// The device-spec language ("dust:block=5:mem:1G"): option schemas as data and a pure parser to a tree.
// Grammar and examples: docs/DEVICE-SPECS.md. Opening a parsed tree is open-device.ts's job.
import { SpecError } from "./errors.js";
import { FLAKEY_MODES, normalizeFaultRule, type FaultRuleConfig, type FlakeyMode } from "./fault-rules.js";
import { parseDuration, parseSize } from "./size.js";

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

/** How an option's value is written. */
export type OptionValueType =
  "size" | "duration" | "rate" | "integer" | "flag" | "block-range" | "mode" | "byte-range";

/** One option of a wrapper: the schema that the parser, the docs and the help text share. */
export interface WrapperOption {
  readonly key: string;
  readonly value: OptionValueType;
  readonly repeatable?: boolean;
  /** Default, as shown to users. */
  readonly default: string;
  readonly help: string;
}

/** Names of the wrappers (layers) a spec can stack. */
export type WrapperName = "slice" | "dust" | "flakey" | "random" | "delay" | "fault";

/** Every wrapper with its summary and options. */
export const WRAPPERS: Readonly<Record<WrapperName, { summary: string; options: readonly WrapperOption[] }>> =
  {
    slice: {
      summary: "a byte range of the lower device (dm-linear), e.g. spares carved from a disk's tail",
      options: [
        { key: "offset", value: "size", default: "0", help: "first byte of the slice (multiple of 512)" },
        { key: "length", value: "size", default: "to the end", help: "length in bytes (multiple of 512)" },
      ],
    },
    dust: {
      summary: "dm-dust: reads of listed bad blocks fail; writes fail, or heal the block with `heal`",
      options: [
        { key: "block", value: "block-range", repeatable: true, default: "none", help: "bad block N or N-M" },
        { key: "block-size", value: "size", default: "4096", help: "bad-block unit (power of two >= 512)" },
        { key: "heal", value: "flag", default: "off", help: "a write to a bad block succeeds and clears it" },
      ],
    },
    flakey: {
      summary: "dm-flakey: up for `up`, then down for `down`, repeating; `mode`s apply while down",
      options: [
        { key: "up", value: "duration", default: "(required)", help: "length of each up interval" },
        { key: "down", value: "duration", default: "(required)", help: "length of each down interval" },
        {
          key: "mode",
          value: "mode",
          repeatable: true,
          default: "error-reads + error-writes",
          help: FLAKEY_MODES.join(" | "),
        },
        {
          key: "corrupt-offset",
          value: "integer",
          default: "0",
          help: "corrupt-byte: byte of each read to corrupt",
        },
        {
          key: "corrupt-value",
          value: "integer",
          default: "byte XOR 0xff",
          help: "corrupt-byte: value to store",
        },
      ],
    },
    random: {
      summary: "seeded per-operation error rates",
      options: [
        { key: "read", value: "rate", default: "0", help: "probability that a read fails" },
        {
          key: "write",
          value: "rate",
          default: "0",
          help: "probability that a write / trim / zeroing fails",
        },
        { key: "flush", value: "rate", default: "0", help: "probability that a flush fails" },
        { key: "seed", value: "integer", default: "1", help: "PRNG seed: same seed, same fault sequence" },
      ],
    },
    delay: {
      summary: "dm-delay: delay reads / writes, everywhere or only requests touching `range`",
      options: [
        { key: "read", value: "duration", default: "0", help: "delay of each read" },
        { key: "write", value: "duration", default: "0", help: "delay of each write / trim / zeroing" },
        {
          key: "range",
          value: "byte-range",
          default: "whole device",
          help: "OFFSET+LENGTH: delay only this range",
        },
      ],
    },
    fault: {
      summary: "an empty fault layer (rules are added at runtime); takes no options",
      options: [],
    },
  };

const NBD_SCHEMES = ["nbd", "nbds", "nbd+unix", "nbds+unix", "nbd+vsock", "nbds+vsock"];
const MAX_BAD_BLOCKS = 1 << 20;

/** A parse failure inside a spec; parseDeviceSpec turns it into a SpecError naming the spec. */
class Bad extends Error {}

type Values = Map<string, (string | undefined)[]>;

function parseArgs(wrapper: WrapperName, args: string): Values {
  const schema = WRAPPERS[wrapper].options;
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

function rate(text: string): number {
  const v = /^\d+(\.\d+)?(e-?\d+)?$/i.test(text) ? Number(text) : NaN;
  if (!(v >= 0 && v <= 1)) throw new RangeError(`"${text}" is not a rate between 0 and 1`);
  return v;
}

function integer(text: string): number {
  const v = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(v)) throw new RangeError(`"${text}" is not an integer >= 0`);
  return v;
}

function blockRange(text: string): number[] {
  const m = /^(\d+)(?:-(\d+))?$/.exec(text);
  const first = m ? Number(m[1]) : NaN;
  const last = m?.[2] !== undefined ? Number(m[2]) : first;
  if (!m || !Number.isSafeInteger(first) || !Number.isSafeInteger(last) || last < first) {
    throw new RangeError(`"${text}" is not a block number N or range N-M (N <= M)`);
  }
  if (last - first >= MAX_BAD_BLOCKS)
    throw new RangeError(`"${text}" lists more than ${MAX_BAD_BLOCKS} blocks`);
  return Array.from({ length: last - first + 1 }, (_, i) => first + i);
}

function byteRange(text: string): { offsetBytes: number; lengthBytes: number } {
  const m = /^([^+]+)\+([^+]+)$/.exec(text);
  if (!m) throw new RangeError(`"${text}" is not a byte range OFFSET+LENGTH (e.g. 0+1M)`);
  const lengthBytes = parseSize(m[2]!);
  if (lengthBytes === 0) throw new RangeError(`range "${text}" is empty`);
  return { offsetBytes: parseSize(m[1]!), lengthBytes };
}

function multipleOf512(what: string, bytes: number, allowZero: boolean): number {
  if (bytes % 512 !== 0 || (!allowZero && bytes === 0)) {
    throw new Bad(`${what} ${bytes} is not a ${allowZero ? "" : "positive "}multiple of 512`);
  }
  return bytes;
}

/** Build the rule of a fault wrapper from its parsed options. */
function faultRule(wrapper: Exclude<WrapperName, "slice" | "fault">, values: Values): FaultRuleConfig {
  const one = <T>(key: string, parse: (t: string) => T): T | undefined => {
    const list = values.get(key);
    return list === undefined
      ? undefined
      : typed(`${wrapper} option "${key}"`, list[list.length - 1]!, parse);
  };
  const all = <T>(key: string, parse: (t: string) => T): T[] =>
    (values.get(key) ?? []).map((v) => typed(`${wrapper} option "${key}"`, v!, parse));
  switch (wrapper) {
    case "dust": {
      const blocks = all("block", blockRange).flat();
      if (blocks.length > MAX_BAD_BLOCKS) throw new Bad(`dust lists more than ${MAX_BAD_BLOCKS} blocks`);
      return { kind: "dust", blockSize: one("block-size", parseSize), blocks, heal: values.has("heal") };
    }
    case "flakey": {
      const upMs = one("up", parseDuration);
      const downMs = one("down", parseDuration);
      if (upMs === undefined || downMs === undefined) throw new Bad(`flakey needs both "up" and "down"`);
      const modes = all("mode", (m) => {
        if (!FLAKEY_MODES.includes(m as FlakeyMode)) {
          throw new RangeError(`unknown mode "${m}" (expected one of ${FLAKEY_MODES.join(", ")})`);
        }
        return m as FlakeyMode;
      });
      return {
        kind: "flakey",
        upMs,
        downMs,
        modes: modes.length > 0 ? modes : undefined,
        corruptOffset: one("corrupt-offset", integer),
        corruptValue: one("corrupt-value", integer),
      };
    }
    case "random":
      return {
        kind: "random",
        readErrorRate: one("read", rate),
        writeErrorRate: one("write", rate),
        flushErrorRate: one("flush", rate),
        seed: one("seed", integer),
      };
    case "delay":
      return {
        kind: "delay",
        readDelayMs: one("read", parseDuration),
        writeDelayMs: one("write", parseDuration),
        range: one("range", byteRange),
      };
  }
}

function validRule(rule: FaultRuleConfig): FaultRuleConfig {
  try {
    normalizeFaultRule(rule, Infinity);
  } catch (err) {
    throw new Bad((err as Error).message);
  }
  return rule;
}

function isWrapper(name: string): name is WrapperName {
  return Object.hasOwn(WRAPPERS, name);
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
    `unknown scheme or wrapper "${scheme}" (wrappers: ${Object.keys(WRAPPERS).join(", ")}; ` +
      `bases: PATH, file:PATH, file+direct:PATH, mem:SIZE, nbd://...; write file:${text} for a path containing ":")`,
  );
}

function parseTree(text: string): DeviceSpec {
  const name = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(text)?.[1];
  if (name === undefined || !isWrapper(name)) return parseBase(text);
  const afterName = text.slice(name.length + 1);
  const colon = afterName.indexOf(":");
  if (colon < 0) throw new Bad(`wrapper "${name}" needs options and a lower device (${name}:OPTIONS:SPEC)`);
  const values = parseArgs(name, afterName.slice(0, colon));
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
  const rules = name === "fault" ? [] : [validRule(faultRule(name, values))];
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
    const m = /^([a-z]+):([^:]*)$/.exec(text.trim());
    const kind = m?.[1];
    if (!m || kind === undefined || !isWrapper(kind) || kind === "slice" || kind === "fault") {
      throw new Bad(`expected KIND:OPTIONS with KIND one of dust, flakey, random, delay`);
    }
    return validRule(faultRule(kind, parseArgs(kind, m[2]!)));
  } catch (err) {
    if (err instanceof Bad) throw new SpecError(text, `fault rule "${text}": ${err.message}`);
    throw err;
  }
}
