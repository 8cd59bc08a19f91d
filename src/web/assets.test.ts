// Tests of the built dashboard bundle: the size budget and how assets are looked up.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { gzipSync } from "node:zlib";
import { ASSETS_DIR, ASSET_TYPES, loadAsset } from "./assets.js";

/** The budget for the whole dashboard: JS + CSS, gzipped. */
const BUDGET_BYTES = 100 * 1024;

test("the built dashboard (npm run build) stays within 100 KB of gzipped JS + CSS", async () => {
  let total = 0;
  for (const name of ["app.js", "app.css"]) {
    const text = await readFile(`${ASSETS_DIR}${name}`).catch(() => {
      throw new Error(`${ASSETS_DIR}${name} is missing: run npm run build (it bundles src/web/client)`);
    });
    total += gzipSync(text, { level: 9 }).length;
  }
  console.log(`dashboard JS + CSS: ${(total / 1024).toFixed(1)} KiB gzipped`);
  assert.ok(total <= BUDGET_BYTES, `${total} bytes gzipped is over the ${BUDGET_BYTES} byte budget`);
});

test("assets are served with their content type; unknown names are not", async () => {
  const html = await loadAsset("index.html");
  assert.equal(html?.contentType, ASSET_TYPES["index.html"]);
  assert.match(html!.text, /<script type="module" src="\/ui\/app\.js">/);
  assert.equal(await loadAsset("../package.json"), undefined);
  assert.equal(await loadAsset("app.js", "/nonexistent/"), undefined);
});
