// Writes docs/CONFIG.md from the configuration schema: `node dist/src/daemon/write-config-docs.js`.

import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { renderConfigDocs } from "./config-docs.js";

/** Path of docs/CONFIG.md, from dist/src/daemon/ or src/daemon/. */
export const CONFIG_DOCS_PATH = fileURLToPath(
  new URL(
    import.meta.url.includes("/dist/") ? "../../../docs/CONFIG.md" : "../../docs/CONFIG.md",
    import.meta.url,
  ),
);

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(CONFIG_DOCS_PATH, renderConfigDocs());
  console.log(`wrote ${CONFIG_DOCS_PATH}`);
}
