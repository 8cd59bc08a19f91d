// Markdown for docs/DEVICE-SPECS.md, derived from the registry: each kind's option table (with the
// spec, TOML and JSON spellings) and its counters. A docs test keeps the file equal to this.
import { jsonKey, specKey, tomlKey, type FaultKind, type OptionDef } from "./fault-kind.js";

function cell(text: string): string {
  return text.replace(/\|/g, "\\|");
}

/** A Markdown table with padded columns, as prettier writes it. */
export function alignedTable(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = header.map((h, i) => Math.max(3, h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)];
}

/** Default of an option as users read it. */
export function defaultText(def: OptionDef<unknown>): string {
  if (def.required) return "(required)";
  if (def.default === undefined) return def.defaultText ?? "unset";
  if (def.type.flag) return def.default ? "on" : "off";
  const items = def.type.toText(def.default);
  if (def.type.list) return items.length === 0 ? "none" : items.join(" + ");
  return items[0]!;
}

function bounds(def: OptionDef<unknown>): string {
  const fmt = (n: number) => (def.type.toml === "duration" ? def.type.toText(n as never)[0]! : String(n));
  if (def.min !== undefined && def.max !== undefined) return ` (${fmt(def.min)}..${fmt(def.max)})`;
  if (def.max !== undefined) return ` (<= ${fmt(def.max)})`;
  if (def.min !== undefined) return ` (>= ${fmt(def.min)})`;
  return "";
}

/** The sentence of a kind's summary (capitalised, with a full stop). */
export function kindSummary(kind: FaultKind): string {
  return kind.summary.charAt(0).toUpperCase() + kind.summary.slice(1) + ".";
}

/** The option table of a kind. */
export function kindOptionTable(kind: FaultKind): string[] {
  const rows = Object.entries(kind.options).map(([name, def]) =>
    [
      `\`${specKey(name, def)}\`${def.type.list ? " (repeatable)" : ""}`,
      `\`${tomlKey(name)}\` / \`${jsonKey(name)}\``,
      def.type.name,
      defaultText(def),
      def.help + bounds(def),
    ].map(cell),
  );
  return alignedTable(["option", "TOML / JSON", "value", "default", "meaning"], rows);
}

/** The counters line of a kind. */
export function kindCounters(kind: FaultKind): string {
  return `Counters: ${kind.counters.map((c) => `\`${c.name}\``).join(", ")}.`;
}
