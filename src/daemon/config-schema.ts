// The configuration schema as data: every key with its type, default, bounds and help text.
// Validation (schema-validate.ts), defaults and the docs table (config-docs.ts) are generated from it.

import { REMAP_POLICY_SCHEMA, type PolicyField, type RemapPolicy } from "../remap/remap-policy.js";
import { FAULTS_TABLE } from "./config-faults.js";
import { FORECAST_TABLE, SCAN_TABLE } from "./config-health.js";
import { formatDuration } from "./schema-validate.js";

/** Value types a configuration key can have. */
export type FieldType =
  | "string"
  | "path"
  | "boolean"
  | "integer"
  | "number"
  | "duration"
  | "enum"
  | "listen"
  | "string-list"
  | "integer-list"
  | "enum-list"
  | "listen-list";

/** One key of a table. */
export interface FieldSchema {
  /** TOML key. */
  readonly key: string;
  /** Property name in the parsed config (default: camelCase of key, plus "Ms" for durations). */
  readonly prop?: string;
  readonly type: FieldType;
  /** Default, written as in the TOML file (durations as "25s"); absent means optional without default. */
  readonly default?: string | number | boolean | readonly (string | number)[];
  /** Default is the value of this sibling key (e.g. export = name). */
  readonly defaultFrom?: string;
  readonly required?: boolean;
  /** Bounds of the value, or of each list item (durations in milliseconds). */
  readonly min?: number;
  readonly max?: number;
  readonly minItems?: number;
  readonly maxItems?: number;
  /** Allowed values of an enum. */
  readonly values?: readonly string[];
  /** Strings must match this; `patternHelp` says so in words. */
  readonly pattern?: RegExp;
  readonly patternHelp?: string;
  readonly maxLength?: number;
  readonly powerOfTwo?: boolean;
  readonly help: string;
}

/** A TOML table (or array of tables) with its keys and sub-tables. */
export interface TableSchema {
  /** TOML key of the table ("" for the root). */
  readonly key: string;
  /** Property name in the parsed config (default: key). */
  readonly prop?: string;
  /** An array of tables ([[target]]). */
  readonly array?: boolean;
  readonly minItems?: number;
  /** For a sub-table: absent unless written; otherwise filled with defaults. */
  readonly optional?: boolean;
  readonly help: string;
  readonly fields: readonly FieldSchema[];
  readonly tables?: readonly TableSchema[];
}

const NAME_PATTERN = /^[a-zA-Z0-9_.-]+$/;

/** TOML keys of policy knobs whose name predates the policy schema (kept so old files still load). */
const POLICY_KEY_ALIASES: Partial<Record<keyof RemapPolicy, string>> = {
  spareAlertPercent: "spare_threshold_percent",
};

/**
 * A remap-policy knob as a config field: camelCase -> snake_case, and "...Ms" integers become
 * durations without the suffix (readRetryBudgetMs -> read_retry_budget = "5s").
 */
export function policyField(field: PolicyField): FieldSchema {
  const isDuration = field.type === "integer" && field.key.endsWith("Ms");
  const base = isDuration ? field.key.slice(0, -2) : field.key;
  const key = POLICY_KEY_ALIASES[field.key] ?? base.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
  // Durations are written with a unit in the file ("5s"): the "(ms)" of the remap schema's help goes.
  const text = isDuration ? field.help.replace(/ \(ms\)/g, "") : field.help;
  const help = text.charAt(0).toUpperCase() + text.slice(1) + (text.endsWith(".") ? "" : ".");
  return {
    key,
    prop: field.key,
    type: isDuration ? "duration" : field.type,
    default: isDuration ? formatDuration(field.default as number) : field.default,
    ...(field.min !== undefined ? { min: field.min } : {}),
    ...(field.max !== undefined ? { max: field.max } : {}),
    ...(field.values !== undefined ? { values: field.values } : {}),
    help,
  };
}

/** [target.policy]: derived from the remap layer's own schema, one entry per knob (remap-policy.ts). */
const policyTable: TableSchema = {
  key: "policy",
  help: "How the target reacts to I/O errors on the main device (the remap policy).",
  fields: REMAP_POLICY_SCHEMA.map(policyField),
};

/** The whole configuration file. */
export const CONFIG_SCHEMA: TableSchema = {
  key: "",
  help: "dmremap daemon configuration (TOML).",
  fields: [],
  tables: [
    {
      key: "daemon",
      help: "Process-wide settings.",
      // prettier-ignore
      fields: [
        { key: "data_dir", type: "path", help: "Directory for daemon state (optional)." },
        { key: "log_level", type: "enum", default: "info", values: ["debug", "info", "warn", "error"], help: "Least severe level that is logged (JSON lines on stderr)." },
        { key: "shutdown_timeout", type: "duration", default: "30s", min: 1000, max: 600_000, help: "Bound of a stop (SIGTERM): services still busy then are left, what was not flushed is logged, and the exit code is 1." },
      ],
    },
    {
      key: "api",
      help: "HTTP control API (JSON, problem details on errors).",
      // prettier-ignore
      fields: [
        { key: "listen", type: "listen", default: "tcp:127.0.0.1:7878", help: "tcp:HOST:PORT or unix:/path. On a Unix socket, file permissions protect the API." },
        { key: "token_file", type: "path", help: "File holding the bearer token required by mutating endpoints on TCP; without it they are refused on TCP." },
        { key: "allow_insecure", type: "boolean", default: false, help: "Allow the API (plain HTTP, bearer token in clear) on a non-loopback TCP address." },
      ],
    },
    {
      key: "metrics",
      help: "Prometheus metrics.",
      // prettier-ignore
      fields: [
        { key: "enabled", type: "boolean", default: true, help: "Serve /metrics on the API listener." },
        { key: "process_metrics", type: "boolean", default: true, help: "Include the default process metrics (CPU, memory, event loop)." },
      ],
    },
    {
      key: "alerts",
      optional: true,
      help: "Alerts that reach a person without Prometheus (like smartd -M exec): on every change of a target's state, a program and/or a webhook (docs/OPERATIONS.md).",
      // prettier-ignore
      fields: [
        { key: "exec", type: "path", help: "Program run once per alert, with DMREMAP_ALERT_* environment variables and the alert as JSON on stdin." },
        { key: "webhook", type: "string", pattern: /^https?:\/\/\S+$/, patternHelp: "an http:// or https:// URL", maxLength: 2048, help: "URL that receives each alert as a JSON POST." },
        { key: "min_interval", type: "duration", default: "1m", min: 0, max: 86_400_000, help: "At most one alert per target in this interval; changes in between are coalesced into the next one." },
        { key: "timeout", type: "duration", default: "30s", min: 1000, max: 600_000, help: "A delivery (program or webhook) still running after this counts as failed." },
      ],
    },
    {
      key: "nbd",
      help: "NBD server.",
      // prettier-ignore
      fields: [
        { key: "listen", type: "listen-list", default: ["unix:/run/dmremap/nbd.sock"], minItems: 1, maxItems: 16, help: "Listen addresses (tcp:HOST:PORT or unix:/path)." },
        { key: "tls_cert", type: "path", help: "TLS certificate (PEM); requires tls_key." },
        { key: "tls_key", type: "path", help: "TLS private key (PEM); requires tls_cert." },
        { key: "tls_psk_file", type: "path", help: "TLS pre-shared keys file (nbdkit/GnuTLS psktool format); instead of tls_cert/tls_key." },
        { key: "allow_insecure", type: "boolean", default: false, help: "Allow plain-text NBD on a non-loopback TCP address." },
        { key: "request_deadline", type: "duration", default: "25s", min: 1000, max: 600_000, help: "A request not done by then fails with EIO (below the Linux NBD client's 30 s timeout)." },
        { key: "max_in_flight", type: "integer", default: 64, min: 1, max: 4096, help: "Requests processed concurrently per connection." },
      ],
    },
    {
      key: "target",
      prop: "targets",
      array: true,
      minItems: 1,
      help: "One served remapped device ([[target]], at least one).",
      // prettier-ignore
      fields: [
        { key: "name", type: "string", required: true, pattern: NAME_PATTERN, patternHelp: "letters, digits, '_', '.', '-'", maxLength: 64, help: "Unique name used by the API and metrics." },
        { key: "export", prop: "exportName", type: "string", defaultFrom: "name", maxLength: 256, help: "NBD export name (unique); defaults to name." },
        { key: "main", type: "string", required: true, help: "Device spec of the main device (docs/DEVICE-SPECS.md)." },
        { key: "spares", type: "string-list", required: true, minItems: 1, maxItems: 16, help: "Device specs of the spare devices (metadata copies live on each)." },
        { key: "block_size", type: "integer", default: 4096, min: 512, max: 65536, powerOfTwo: true, help: "Remap unit in bytes; used when creating the set, checked against its metadata otherwise." },
        { key: "create", type: "boolean", default: false, help: "Create the set when the spares are blank (never formats over existing metadata)." },
      ],
      tables: [policyTable, FAULTS_TABLE, SCAN_TABLE, FORECAST_TABLE],
    },
  ],
};

/** The default of `key` in the table at `tablePath` ("nbd", "target.policy"), as written in TOML. */
export function schemaDefault(tablePath: string, key: string): FieldSchema["default"] {
  let table: TableSchema | undefined = CONFIG_SCHEMA;
  for (const part of tablePath.split(".")) table = table?.tables?.find((t) => t.key === part);
  const field = table?.fields.find((f) => f.key === key);
  if (!field) throw new RangeError(`no config key ${tablePath}.${key}`);
  return field.default;
}
