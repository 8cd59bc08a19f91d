// Tests that docs/CONFIG.md is generated from the current schema and that every key is documented.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { renderConfigDocs } from "./config-docs.js";
import { CONFIG_SCHEMA, type TableSchema } from "./config-schema.js";
import { CONFIG_DOCS_PATH } from "./write-config-docs.js";

function allKeys(table: TableSchema, path: string, out: string[]): string[] {
  for (const f of table.fields) out.push(`${path}.${f.key}`);
  for (const t of table.tables ?? []) allKeys(t, path ? `${path}.${t.key}` : t.key, out);
  return out;
}

describe("renderConfigDocs", () => {
  it("has one row per schema key under its table heading", () => {
    const text = renderConfigDocs();
    for (const key of allKeys(CONFIG_SCHEMA, "", [])) {
      const table = key.slice(0, key.lastIndexOf("."));
      const field = key.slice(key.lastIndexOf(".") + 1);
      const section = text
        .split(/^## /m)
        .find((s) => s.startsWith(`[${table}]`) || s.startsWith(`[[${table}]]`));
      assert.ok(section, `no section for [${table}]`);
      assert.match(section, new RegExp(`^\\| \`${field}\` +\\|`, "m"), `no row for ${key}`);
    }
    const row = (cells: string[]) =>
      new RegExp(`^\\| ${cells.map((c) => c.replace(/[.*|]/g, "\\$&")).join(" +\\| ")} +\\|`, "m");
    assert.match(text, row(["`read_retries`", "integer", "`3`", "0 .. 20"]));
    assert.match(text, row(["`read_retry_budget`", "duration", '`"5s"`', "0s .. 25s"]));
    assert.match(text, row(["`name`", "string", "**required**"]));
  });

  it("matches docs/CONFIG.md (regenerate: node dist/src/daemon/write-config-docs.js)", () => {
    assert.equal(readFileSync(CONFIG_DOCS_PATH, "utf8"), renderConfigDocs());
  });
});
