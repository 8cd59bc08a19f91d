// Value types of fault-rule options: how one value is read from a device spec and from JSON / TOML,
// written back as spec text, and named in docs. Every option of every fault kind uses one of these.
import { formatSize, parseDuration, parseSize } from "../size.js";

/** How an option is stored in the TOML config (a FieldType of the config schema). */
export type TomlType =
  "integer" | "number" | "duration" | "boolean" | "string" | "integer-list" | "enum-list" | "string-list";

/** One value type. For list types `T` is an array, spec items repeat, and JSON / TOML take an array. */
export interface OptionType<T> {
  /** Name in docs ("size", "duration", ...). */
  readonly name: string;
  /** A list: repeatable in a spec (items concatenate), an array in JSON / TOML. */
  readonly list: boolean;
  /** A flag: written as a bare key in a spec, a boolean in JSON / TOML. */
  readonly flag?: boolean;
  readonly toml: TomlType;
  /** Allowed values (enum lists). */
  readonly values?: readonly string[];
  /** Parse one spec value (list types: one item); throws RangeError naming the text. */
  fromText(text: string): T;
  /** Parse a JSON / TOML value (typed, or its spec text); throws RangeError naming the value. */
  fromJson(value: unknown): T;
  /** Spec text of a value (list types: one text per item). */
  toText(value: T): string[];
  /** The value as the config file writes it (for defaults in docs). */
  toToml(value: T): string | number | boolean | readonly (string | number)[];
}

/** A value for messages: strings quoted, the rest as JSON. */
export function shown(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value));
}

const MAX_LIST_ITEMS = 1 << 20;

/** Duration as spec text in its largest exact unit: "2h", "1m", "5s", "200ms", "0ms". */
export function formatDuration(ms: number): string {
  if (ms !== 0) {
    for (const [unit, factor] of [
      ["h", 3_600_000],
      ["m", 60_000],
      ["s", 1000],
    ] as const) {
      if (ms % factor === 0) return `${ms / factor}${unit}`;
    }
  }
  return `${ms}ms`;
}

function nonNegativeInteger(text: string): number {
  const v = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(v)) throw new RangeError(`"${text}" is not an integer >= 0`);
  return v;
}

/** Integers >= 0. */
export const integer: OptionType<number> = {
  name: "integer",
  list: false,
  toml: "integer",
  fromText: nonNegativeInteger,
  fromJson(value) {
    if (typeof value === "string") return nonNegativeInteger(value);
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
      throw new RangeError(`${shown(value)} is not an integer >= 0`);
    }
    return value;
  },
  toText: (v) => [String(v)],
  toToml: (v) => v,
};

function decimal(text: string): number {
  return /^\d+(\.\d+)?(e-?\d+)?$/i.test(text) ? Number(text) : NaN;
}

/** Numbers >= 0 (e.g. a count per hour). */
export const number: OptionType<number> = {
  name: "number",
  list: false,
  toml: "number",
  fromText(text) {
    const v = decimal(text);
    if (!Number.isFinite(v)) throw new RangeError(`"${text}" is not a number >= 0`);
    return v;
  },
  fromJson(value) {
    if (typeof value === "string") return number.fromText(value);
    if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
      throw new RangeError(`${shown(value)} is not a number >= 0`);
    }
    return value;
  },
  toText: (v) => [String(v)],
  toToml: (v) => v,
};

/** Probabilities 0..1. */
export const rate: OptionType<number> = {
  name: "rate",
  list: false,
  toml: "number",
  fromText(text) {
    const v = decimal(text);
    if (!(v >= 0 && v <= 1)) throw new RangeError(`"${text}" is not a rate between 0 and 1`);
    return v;
  },
  fromJson(value) {
    if (typeof value === "string") return rate.fromText(value);
    if (typeof value !== "number" || !(value >= 0 && value <= 1)) {
      throw new RangeError(`${shown(value)} is not a rate between 0 and 1`);
    }
    return value;
  },
  toText: (v) => [String(v)],
  toToml: (v) => v,
};

/** Milliseconds; text "200ms", "5s", "2m", "1h" (a bare number is milliseconds). */
export const duration: OptionType<number> = {
  name: "duration",
  list: false,
  toml: "duration",
  fromText: parseDuration,
  fromJson(value) {
    if (typeof value === "string") return parseDuration(value);
    if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
      throw new RangeError(`${shown(value)} is not a duration (milliseconds >= 0, or text such as "5s")`);
    }
    return value;
  },
  toText: (v) => [formatDuration(v)],
  toToml: (v) => formatDuration(v),
};

/** Bytes; text "4096", "4K", "1G". */
export const size: OptionType<number> = {
  name: "size",
  list: false,
  toml: "integer",
  fromText: parseSize,
  fromJson(value) {
    if (typeof value === "string") return parseSize(value);
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
      throw new RangeError(`${shown(value)} is not a size in bytes (an integer >= 0, or text such as "4K")`);
    }
    return value;
  },
  toText: (v) => [formatSize(v)],
  toToml: (v) => v,
};

/** On / off; a bare key in a spec. */
export const flag: OptionType<boolean> = {
  name: "flag",
  list: false,
  flag: true,
  toml: "boolean",
  fromText: () => true,
  fromJson(value) {
    if (typeof value !== "boolean") throw new RangeError(`${shown(value)} is not a boolean (true or false)`);
    return value;
  },
  toText: () => [],
  toToml: (v) => v,
};

function blockRangeText(text: string): number[] {
  const m = /^(\d+)(?:-(\d+))?$/.exec(text);
  const first = m ? Number(m[1]) : NaN;
  const last = m?.[2] !== undefined ? Number(m[2]) : first;
  if (!m || !Number.isSafeInteger(first) || !Number.isSafeInteger(last) || last < first) {
    throw new RangeError(`"${text}" is not a block number N or range N-M (N <= M)`);
  }
  if (last - first >= MAX_LIST_ITEMS)
    throw new RangeError(`"${text}" lists more than ${MAX_LIST_ITEMS} blocks`);
  return Array.from({ length: last - first + 1 }, (_, i) => first + i);
}

/** Sorted block numbers as range texts, runs collapsed: [5, 9, 10, 11] -> ["5", "9-11"]. */
export function blockRangeTexts(blocks: readonly number[]): string[] {
  const items: string[] = [];
  for (let i = 0; i < blocks.length;) {
    let j = i;
    while (j + 1 < blocks.length && blocks[j + 1] === blocks[j]! + 1) j++;
    items.push(i === j ? `${blocks[i]}` : `${blocks[i]}-${blocks[j]}`);
    i = j + 1;
  }
  return items;
}

function sortedUnique(blocks: readonly number[]): number[] {
  return [...new Set(blocks)].sort((a, b) => a - b);
}

/** Block numbers: spec items "N" or "N-M"; JSON / TOML an array of numbers (or "N-M" texts). */
export const blocks: OptionType<readonly number[]> = {
  name: "block-range",
  list: true,
  toml: "integer-list",
  fromText: blockRangeText,
  fromJson(value) {
    if (!Array.isArray(value)) throw new RangeError(`${shown(value)} is not a list of block numbers`);
    const out: number[] = [];
    for (const item of value) {
      if (typeof item === "string") out.push(...blockRangeText(item));
      else if (typeof item === "number" && Number.isSafeInteger(item) && item >= 0) out.push(item);
      else throw new RangeError(`${shown(item)} is not a block number (an integer >= 0, or "N-M")`);
      if (out.length > MAX_LIST_ITEMS) throw new RangeError(`lists more than ${MAX_LIST_ITEMS} blocks`);
    }
    return sortedUnique(out);
  },
  toText: (v) => blockRangeTexts(sortedUnique(v)),
  toToml: (v) => [...v],
};

/** A list of names from a closed set (e.g. flakey modes). */
export function enumList<E extends string>(values: readonly E[]): OptionType<readonly E[]> {
  const one = (item: unknown): E => {
    if (typeof item !== "string" || !values.includes(item as E)) {
      throw new RangeError(`unknown mode ${shown(item)} (expected one of ${values.join(", ")})`);
    }
    return item as E;
  };
  return {
    name: "mode",
    list: true,
    toml: "enum-list",
    values,
    fromText: (text) => [one(text)],
    fromJson(value) {
      if (!Array.isArray(value)) throw new RangeError(`${shown(value)} is not a list of modes`);
      return [...new Set(value.map(one))];
    },
    toText: (v) => [...v],
    toToml: (v) => [...v],
  };
}

/** A byte range of the device. */
export interface ByteRange {
  readonly offsetBytes: number;
  readonly lengthBytes: number;
}

function byteRangeText(text: string): ByteRange {
  const m = /^([^+]+)\+([^+]+)$/.exec(text);
  if (!m) throw new RangeError(`"${text}" is not a byte range OFFSET+LENGTH (e.g. 0+1M)`);
  const lengthBytes = parseSize(m[2]!);
  if (lengthBytes === 0) throw new RangeError(`range "${text}" is empty`);
  return { offsetBytes: parseSize(m[1]!), lengthBytes };
}

/** OFFSET+LENGTH ("0+1M"); JSON also {"offsetBytes", "lengthBytes"}. */
export const byteRange: OptionType<ByteRange> = {
  name: "byte-range",
  list: false,
  toml: "string",
  fromText: byteRangeText,
  fromJson(value) {
    if (typeof value === "string") return byteRangeText(value);
    const { offsetBytes, lengthBytes } = (value ?? {}) as Partial<ByteRange>;
    const valid =
      typeof value === "object" &&
      Number.isSafeInteger(offsetBytes) &&
      Number.isSafeInteger(lengthBytes) &&
      offsetBytes! >= 0 &&
      lengthBytes! > 0;
    if (!valid) throw new RangeError(`${shown(value)} is not a byte range ("OFFSET+LENGTH" text)`);
    return { offsetBytes: offsetBytes!, lengthBytes: lengthBytes! };
  },
  toText: (v) => [`${formatSize(v.offsetBytes)}+${formatSize(v.lengthBytes)}`],
  toToml: (v) => `${formatSize(v.offsetBytes)}+${formatSize(v.lengthBytes)}`,
};

/** One scheduled event: at `atMs` after the rule starts, `blocks` go bad. */
export interface ScheduledBlocks {
  readonly atMs: number;
  readonly blocks: readonly number[];
}

function eventText(text: string): ScheduledBlocks[] {
  const m = /^([^@]+)@([^@]+)$/.exec(text);
  if (!m) throw new RangeError(`"${text}" is not an event TIME@BLOCKS (e.g. 10m@5 or 1h@90-99)`);
  return [{ atMs: parseDuration(m[1]!), blocks: blockRangeText(m[2]!) }];
}

/** Events TIME@N or TIME@N-M ("10m@5"): blocks that go bad that long after the rule starts. */
export const schedule: OptionType<readonly ScheduledBlocks[]> = {
  name: "event",
  list: true,
  toml: "string-list",
  fromText: eventText,
  fromJson(value) {
    if (!Array.isArray(value)) throw new RangeError(`${shown(value)} is not a list of "TIME@BLOCKS" events`);
    return value.flatMap((item) => {
      if (typeof item === "string") return eventText(item);
      const { atMs, blocks: list } = (item ?? {}) as Partial<ScheduledBlocks>;
      if (typeof atMs !== "number" || !(atMs >= 0) || !Array.isArray(list)) {
        throw new RangeError(`${shown(item)} is not an event ("TIME@BLOCKS" text)`);
      }
      return [{ atMs, blocks: blocks.fromJson(list) }];
    });
  },
  toText: (v) =>
    v.flatMap((e) => blockRangeTexts(sortedUnique(e.blocks)).map((b) => `${formatDuration(e.atMs)}@${b}`)),
  toToml: (v) => schedule.toText(v),
};
