// docs/ERRORS.md holds the table generated from the boundary maps, for every error code.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { ERROR_CODES } from "../core/errors.js";
import { ERROR_DOCS_PATH, renderErrorTable, withErrorTable } from "./error-docs.js";

describe("docs/ERRORS.md", () => {
  it("the table has one row per error code", () => {
    const table = renderErrorTable();
    for (const code of ERROR_CODES) assert.match(table, new RegExp(`^\\| \`${code}\` +\\|`, "m"), code);
    assert.match(
      table,
      /^\| `EBLOCKSTATE` +\| Block state does not allow this +\| 409 +\| 1 +\| EINVAL +\|$/m,
    );
  });

  it("is up to date (regenerate: node dist/src/cli/error-docs.js)", () => {
    const text = readFileSync(ERROR_DOCS_PATH, "utf8");
    assert.equal(text, withErrorTable(text));
  });
});
