// The configuration schema as data: every key with its type, default, bounds and help text.
// Validation (schema-validate.ts), defaults and the docs table (config-docs.ts) are generated from it.

import { FLAKEY_MODES } from "../block/fault-rules.js";

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
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

const policyTable: TableSchema = {
  key: "policy",
  help: "How the target reacts to I/O errors on the main device.",
  // prettier-ignore
  fields: [
    { key: "write_retries", type: "integer", default: 2, min: 0, max: 10, help: "Retries of a failed write on main before the block is remapped." },
    { key: "read_retries", type: "integer", default: 3, min: 0, max: 20, help: "Retries of a failed read on main before the block is marked pending." },
    { key: "read_retry_budget", type: "duration", default: "5s", min: 0, max: 25_000, help: "Time budget for read retries of one request; must not exceed nbd.request_deadline." },
    { key: "migrate_on_recovered_read", type: "boolean", default: true, help: "Move a block to a spare when a retried read succeeds (its data is still known)." },
    { key: "spare_threshold_percent", type: "integer", default: 10, min: 0, max: 100, help: "Spare pool is 'nearly exhausted' (status, alert) when free slots fall to this percentage." },
  ],
};

const faultsTable: TableSchema = {
  key: "faults",
  optional: true,
  help: "Fault injection between main and the remap layer, for test setups only; enables the fault API of the target.",
  // prettier-ignore
  fields: [
    { key: "enabled", type: "boolean", default: false, help: "Build the fault layer and expose /v1/targets/NAME/faults." },
    { key: "seed", type: "integer", default: 1, min: 0, max: 2 ** 32 - 1, help: "Seed of the fault PRNG (same seed, same faults)." },
    { key: "dust_blocks", type: "integer-list", default: [], min: 0, max: MAX_SAFE, maxItems: 100_000, help: "Blocks (of block_size) whose reads fail, dm-dust style." },
    { key: "dust_heal", type: "boolean", default: false, help: "A write to a dust block heals it (drive reallocation in firmware)." },
    { key: "read_error_rate", type: "number", default: 0, min: 0, max: 1, help: "Probability that a read of main fails." },
    { key: "write_error_rate", type: "number", default: 0, min: 0, max: 1, help: "Probability that a write to main fails." },
    { key: "flush_error_rate", type: "number", default: 0, min: 0, max: 1, help: "Probability that a flush of main fails." },
    { key: "read_delay", type: "duration", default: "0ms", min: 0, max: 60_000, help: "Latency added to every read of main." },
    { key: "write_delay", type: "duration", default: "0ms", min: 0, max: 60_000, help: "Latency added to every write to main." },
    { key: "flakey_up", type: "duration", default: "0ms", min: 0, max: 86_400_000, help: "dm-flakey: time main works normally per cycle." },
    { key: "flakey_down", type: "duration", default: "0ms", min: 0, max: 86_400_000, help: "dm-flakey: time main misbehaves per cycle; 0 disables flakey." },
    { key: "flakey_modes", type: "enum-list", default: ["error-reads", "error-writes"], values: FLAKEY_MODES, minItems: 1, help: "dm-flakey: what main does while down (error-writes excludes drop-writes, error-reads excludes corrupt-byte)." },
  ],
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
      ],
    },
    {
      key: "api",
      help: "HTTP control API (JSON, problem details on errors).",
      // prettier-ignore
      fields: [
        { key: "listen", type: "listen", default: "tcp:127.0.0.1:7878", help: "tcp:HOST:PORT or unix:/path. On a Unix socket, file permissions protect the API." },
        { key: "token_file", type: "path", help: "File holding the bearer token required by mutating endpoints on TCP; without it they are refused on TCP." },
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
      tables: [policyTable, faultsTable],
    },
  ],
};
