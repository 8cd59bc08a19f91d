// The error table of docs/ERRORS.md, rendered from the boundary maps themselves (HTTP status, exit
// code, NBD errno) so the documentation cannot drift from the code. Run this file to rewrite it.
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ERROR_CODES } from "../core/errors.js";
import { HTTP_STATUS_OF } from "../daemon/http-problem.js";
import { NBD_ERRNO_OF } from "../nbd/errno.js";
import { errnoName } from "../nbd/protocol.js";
import { EXIT_CODE_OF } from "./errors.js";

/** docs/ERRORS.md of the checkout (this file runs from dist/src/cli/). */
export const ERROR_DOCS_PATH = fileURLToPath(new URL("../../../docs/ERRORS.md", import.meta.url));

const BEGIN = "<!-- error-table:begin (generated from the code: node dist/src/cli/error-docs.js) -->";
const END = "<!-- error-table:end -->";

/** The markdown table: one row per error code, in ERROR_CODES order. */
export function renderErrorTable(): string {
  const rows = ERROR_CODES.map((code) => {
    const { status, title } = HTTP_STATUS_OF[code];
    const errno = NBD_ERRNO_OF[code];
    const nbd =
      errno === null
        ? "EIO (logged: not a data-path error)"
        : errno === "by-kind"
          ? "ENOSPC on write, else EINVAL"
          : errnoName(errno);
    return [`\`${code}\``, title, String(status), String(EXIT_CODE_OF[code]), nbd];
  });
  const header = ["code", "meaning (HTTP title)", "HTTP", "exit", "NBD errno"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

/** `text` with the generated table between its markers replaced by the current one. */
export function withErrorTable(text: string): string {
  const from = text.indexOf(BEGIN);
  const to = text.indexOf(END);
  if (from < 0 || to < from) throw new Error(`${ERROR_DOCS_PATH} lacks the error-table markers`);
  return `${text.slice(0, from + BEGIN.length)}\n\n${renderErrorTable()}\n\n${text.slice(to)}`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(ERROR_DOCS_PATH, withErrorTable(readFileSync(ERROR_DOCS_PATH, "utf8")));
}
