// Renders the configuration schema as Markdown (docs/CONFIG.md is generated from it, and a test keeps it current).

import { CONFIG_SCHEMA, type FieldSchema, type TableSchema } from "./config-schema.js";
import { formatDuration } from "./schema-validate.js";

function cell(text: string): string {
  return text.replace(/\|/g, "\\|");
}

function showDefault(field: FieldSchema): string {
  if (field.required) return "**required**";
  if (field.defaultFrom) return `= \`${field.defaultFrom}\``;
  if (field.default === undefined) return "(unset)";
  return `\`${JSON.stringify(field.default)}\``;
}

function showAllowed(field: FieldSchema): string {
  const parts: string[] = [];
  const fmt = (n: number) => (field.type === "duration" ? formatDuration(n) : String(n));
  if (field.values) parts.push(field.values.join(", "));
  if (field.min !== undefined && field.max !== undefined)
    parts.push(`${fmt(field.min)} .. ${fmt(field.max)}`);
  else if (field.min !== undefined) parts.push(`>= ${fmt(field.min)}`);
  else if (field.max !== undefined) parts.push(`<= ${fmt(field.max)}`);
  if (field.powerOfTwo) parts.push("power of two");
  if (field.patternHelp) parts.push(field.patternHelp);
  if (field.maxLength !== undefined) parts.push(`max ${field.maxLength} chars`);
  if (field.minItems !== undefined || field.maxItems !== undefined) {
    parts.push(`${field.minItems ?? 0} .. ${field.maxItems ?? "any"} items`);
  }
  return parts.join("; ");
}

/** A Markdown table with padded columns, as prettier writes it (so `prettier --check` passes). */
function alignedTable(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(3, h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)];
}

function renderTable(table: TableSchema, path: string, out: string[]): void {
  if (path) {
    out.push(`## ${table.array ? `[[${path}]]` : `[${path}]`}`, "", table.help, "");
    if (table.fields.length > 0) {
      const rows = table.fields.map((field) =>
        [`\`${field.key}\``, field.type, showDefault(field), showAllowed(field), field.help].map(cell),
      );
      out.push(...alignedTable(["Key", "Type", "Default", "Allowed", "Description"], rows), "");
    }
  }
  for (const sub of table.tables ?? []) renderTable(sub, path ? `${path}.${sub.key}` : sub.key, out);
}

/** The configuration reference as Markdown, generated from CONFIG_SCHEMA. */
export function renderConfigDocs(schema: TableSchema = CONFIG_SCHEMA): string {
  const out = [
    "# Configuration reference",
    "",
    "<!-- Generated from src/daemon/config-schema.ts by `node dist/src/daemon/write-config-docs.js`; do not edit. -->",
    "",
    "The daemon reads one TOML file (see examples/dmremap.toml). Unknown keys are errors. Durations are",
    'written as `"200ms"`, `"5s"`, `"2m"` (a bare integer is milliseconds). Listen addresses are',
    "`tcp:HOST:PORT` (IPv6 as `tcp:[::1]:PORT`) or `unix:/absolute/path`. Error messages name the file,",
    "the key path (array indexes 0-based, e.g. `target[1].policy.read_retries`) and the bad value.",
    "",
  ];
  renderTable(schema, "", out);
  out.push(
    "## Checks across keys",
    "",
    "- `target.name` and `target.export` are unique across targets.",
    "- `nbd.tls_cert` and `nbd.tls_key` go together; `nbd.tls_psk_file` excludes them.",
    "- A non-loopback `tcp:` entry in `nbd.listen` needs TLS or `allow_insecure = true`.",
    "- A non-loopback `api.listen` needs `api.allow_insecure = true` (the API has no TLS).",
    "- No two devices of the file share a byte: a target's main and spares, and every device of",
    "  other targets (checked when the daemon starts; see OPERATIONS.md, what dmremap refuses).",
    "- `[target.policy]` has one key per remap-policy knob (src/remap/remap-policy.ts); `serve --spare`",
    "  takes the same knobs as flags (`--read-retry-budget 2s`).",
    "- `target.policy.read_retry_budget` may not exceed `nbd.request_deadline`.",
    "- `[target.faults]` has an effect only with `enabled = true`. Each `[target.faults.KIND]` table is",
    "  one rule, checked as the fault layer checks it (e.g. flakey `modes` must not combine `error-writes`",
    "  with `drop-writes` or `error-reads` with `corrupt-byte`); the kinds, their options and the same",
    "  options in device specs and the HTTP API are in docs/DEVICE-SPECS.md.",
    "",
  );
  return out.join("\n");
}
