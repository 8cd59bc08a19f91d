// Generic validation of parsed TOML against a TableSchema: types, bounds, defaults, unknown keys.
// Collects every issue (key path + message naming the bad value) instead of stopping at the first.

import { parseDuration } from "../block/size.js";
import type { ConfigIssue } from "./errors.js";
import type { FieldSchema, TableSchema } from "./config-schema.js";
import { parseListenAddress } from "./listen-address.js";

/** A parsed table: properties named by FieldSchema.prop / TableSchema.prop. */
export type ParsedTable = Record<string, unknown>;

/** Render a configuration value for a message: strings quoted, lists as JSON. */
export function formatValue(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint")
    return String(value);
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return JSON.stringify(value);
  if (value && typeof value === "object") return "a table";
  return String(value);
}

/** Render milliseconds as the shortest exact duration text ("25s", "1500ms"). */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0s";
  for (const [unit, factor] of [
    ["h", 3_600_000],
    ["m", 60_000],
    ["s", 1000],
  ] as const) {
    if (ms % factor === 0) return `${ms / factor}${unit}`;
  }
  return `${ms}ms`;
}

/** Property name of a field in the parsed config. */
export function fieldProp(field: FieldSchema): string {
  if (field.prop) return field.prop;
  const camel = field.key.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());
  return field.type === "duration" ? `${camel}Ms` : camel;
}

/** Edit distance, for "did you mean" suggestions. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_v, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length]!;
}

/** The known key closest to `key`, if close enough to be a typo. */
export function suggestKey(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(key.length / 3)) + 1;
  for (const candidate of known) {
    const d = distance(key.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best;
}

const isTable = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Date);

function joinPath(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

/** Check bounds of one scalar number; returns an issue message or undefined. */
function checkBounds(field: FieldSchema, n: number, shown: string): string | undefined {
  const fmt = (x: number) => (field.type === "duration" ? formatDuration(x) : String(x));
  if (field.min !== undefined && n < field.min) return `${shown} is below the minimum ${fmt(field.min)}`;
  if (field.max !== undefined && n > field.max) return `${shown} is above the maximum ${fmt(field.max)}`;
  if (field.powerOfTwo && (n & (n - 1)) !== 0) return `${shown} is not a power of two`;
  return undefined;
}

/** Convert one scalar (or list item) by its base type; throws a message string via Error on failure. */
function convertScalar(field: FieldSchema, type: string, raw: unknown): unknown {
  const shown = formatValue(raw);
  const fail = (message: string): never => {
    throw new FieldIssue(message);
  };
  switch (type) {
    case "boolean":
      if (typeof raw !== "boolean") fail(`expected a boolean (true or false), got ${shown}`);
      return raw;
    case "integer":
    case "number": {
      if (typeof raw !== "number" || !Number.isFinite(raw)) fail(`expected ${article(type)}, got ${shown}`);
      const n = raw as number;
      if (type === "integer" && !Number.isSafeInteger(n)) fail(`expected an integer, got ${shown}`);
      const bad = checkBounds(field, n, shown);
      if (bad) fail(bad);
      return n;
    }
    case "duration": {
      let ms: number;
      if (typeof raw === "number" && Number.isFinite(raw) && raw >= 0) ms = raw;
      else if (typeof raw === "string") {
        try {
          ms = parseDuration(raw);
        } catch {
          return fail(`${shown} is not a duration (expected e.g. 200ms, 5s, 2m)`);
        }
      } else return fail(`expected a duration such as "5s", got ${shown}`);
      const bad = checkBounds(field, ms, shown);
      if (bad) fail(bad);
      return ms;
    }
    case "listen":
      if (typeof raw !== "string") fail(`expected a listen address string, got ${shown}`);
      try {
        return parseListenAddress(raw as string);
      } catch (err) {
        return fail((err as Error).message);
      }
    default: {
      // string, path, enum
      if (typeof raw !== "string") return fail(`expected a string, got ${shown}`);
      if (raw.length === 0) fail(`must not be empty`);
      if (type === "path" && !raw.startsWith("/")) fail(`${shown} is not an absolute path`);
      if (type === "enum" && !field.values!.includes(raw))
        fail(`${shown} is not one of ${field.values!.join(", ")}`);
      if (field.maxLength !== undefined && raw.length > field.maxLength) {
        fail(`${shown} is longer than ${field.maxLength} characters`);
      }
      if (field.pattern && !field.pattern.test(raw)) fail(`${shown} may only contain ${field.patternHelp}`);
      return raw;
    }
  }
}

class FieldIssue extends Error {}

/** Convert a field value (scalar or list) to its parsed form, or return an issue message. */
function convertField(
  field: FieldSchema,
  raw: unknown,
): { value?: unknown; issue?: string; itemIndex?: number } {
  const listOf = field.type.endsWith("-list") ? field.type.slice(0, -5) : undefined;
  try {
    if (!listOf) return { value: convertScalar(field, field.type, raw) };
    if (!Array.isArray(raw)) return { issue: `expected a list, got ${formatValue(raw)}` };
    if (field.minItems !== undefined && raw.length < field.minItems) {
      return {
        issue: `needs at least ${field.minItems} item${field.minItems === 1 ? "" : "s"}, got ${raw.length}`,
      };
    }
    if (field.maxItems !== undefined && raw.length > field.maxItems) {
      return { issue: `has ${raw.length} items, more than the maximum ${field.maxItems}` };
    }
    const out: unknown[] = [];
    for (let i = 0; i < raw.length; i++) {
      try {
        out.push(convertScalar(field, listOf, raw[i]));
      } catch (err) {
        if (err instanceof FieldIssue) return { issue: err.message, itemIndex: i };
        throw err;
      }
    }
    return { value: out };
  } catch (err) {
    if (err instanceof FieldIssue) return { issue: err.message };
    throw err;
  }
}

/** Validate one table; returns the parsed table (defaults applied) and appends issues. */
export function validateTable(
  schema: TableSchema,
  raw: unknown,
  path: string,
  issues: ConfigIssue[],
): ParsedTable {
  const out: ParsedTable = {};
  if (!isTable(raw)) {
    issues.push({ keyPath: path, message: `expected a table, got ${formatValue(raw)}` });
    return out;
  }
  const tables = schema.tables ?? [];
  const known = [...schema.fields.map((f) => f.key), ...tables.map((t) => t.key)];
  for (const key of Object.keys(raw)) {
    if (known.includes(key)) continue;
    const hint = suggestKey(key, known);
    issues.push({
      keyPath: joinPath(path, key),
      message: `unknown key${hint ? ` (did you mean "${hint}"?)` : ` (known keys: ${known.join(", ")})`}`,
    });
  }
  for (const field of schema.fields) {
    const value = raw[field.key];
    const keyPath = joinPath(path, field.key);
    if (value === undefined) {
      if (field.required) issues.push({ keyPath, message: "required key is missing" });
      else if (field.default !== undefined) out[fieldProp(field)] = convertField(field, field.default).value;
      continue;
    }
    const result = convertField(field, value);
    if (result.issue !== undefined) {
      const itemPath = result.itemIndex === undefined ? keyPath : `${keyPath}[${result.itemIndex}]`;
      issues.push({ keyPath: itemPath, message: result.issue });
    } else out[fieldProp(field)] = result.value;
  }
  for (const field of schema.fields) {
    // Derived defaults after the fields they derive from.
    const from = field.defaultFrom && schema.fields.find((f) => f.key === field.defaultFrom);
    if (from && raw[field.key] === undefined) out[fieldProp(field)] = out[fieldProp(from)];
  }
  for (const table of tables) {
    const prop = table.prop ?? table.key;
    const keyPath = joinPath(path, table.key);
    const value = raw[table.key];
    if (table.array) {
      const items = value ?? [];
      if (!Array.isArray(items)) {
        issues.push({
          keyPath,
          message: `expected an array of tables ([[${keyPath}]]), got ${formatValue(value)}`,
        });
        continue;
      }
      if (table.minItems !== undefined && items.length < table.minItems) {
        issues.push({ keyPath, message: `at least ${table.minItems} [[${keyPath}]] table required` });
      }
      out[prop] = items.map((item, i) => validateTable(table, item, `${keyPath}[${i}]`, issues));
    } else if (value !== undefined || !table.optional) {
      out[prop] = validateTable(table, value ?? {}, keyPath, issues);
    }
  }
  return out;
}
