// Builds the dashboard's browser bundle with esbuild: src/web/client/main.ts (+ uPlot, + CSS) into
// dist/src/web/assets/{app.js, app.css, index.html}, which the daemon serves under /ui. Run by `npm run build`.
import { build } from "esbuild";
import { copyFile, mkdir } from "node:fs/promises";
import { fileURLToPath } from "node:url";

const here = (path) => fileURLToPath(new URL(path, import.meta.url));
const out = here("../../../dist/src/web/assets/");

await mkdir(out, { recursive: true });
await build({
  entryPoints: { app: here("./main.ts") },
  bundle: true,
  minify: true,
  format: "esm",
  target: ["chrome100", "firefox100", "safari15"],
  outdir: out,
  legalComments: "none",
  logLevel: "warning",
});
await copyFile(here("./index.html"), `${out}index.html`);
