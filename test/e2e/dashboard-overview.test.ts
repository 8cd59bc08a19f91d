// The dashboard overview with 150 targets in headless Chromium, served by the real API server over
// fake targets (a daemon with 150 sets would only make the test slow): every row is there, headers
// sort by mouse and keyboard, the filter narrows, an acknowledged alert stops being tinted, and the
// live feed reconnects by itself after the server restarts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { FakeControlTarget } from "../../src/daemon/fake-control-target.js";
import { createApiServer } from "../../src/daemon/http-api.js";
import { createLogger } from "../../src/daemon/logger.js";
import { launchBrowser, type Browser } from "./dashboard-browser.js";

const TARGETS = 150;
const TOKEN = "overview-test-token-0123";

test("dashboard overview: 150 targets, sortable, filterable, alerts acknowledged", async () => {
  const targets = Array.from({ length: TARGETS }, (_, i) => {
    const t = new FakeControlTarget({
      name: `disk${String(i).padStart(3, "0")}`,
      blocks: 4096,
      spareSlots: 400,
    });
    // Target i has (i * 37) % 150 remapped blocks: a order different from the names'.
    for (let b = 0; b < (i * 37) % TARGETS; b++) t.remaps.set(b * 3, b);
    return t;
  });
  targets[42]!.state = "degraded";
  targets[42]!.reason = "a metadata copy failed";
  const server = createApiServer({
    targets: () => targets,
    token: TOKEN,
    logger: createLogger({ level: "error" }),
  });
  const at = await server.start("tcp:127.0.0.1:0");
  if (at.kind !== "tcp") throw new Error("tcp only");
  let browser: Browser | undefined;
  try {
    browser = await launchBrowser();
    const { page } = browser;
    await page.goto(`http://${at.host}:${at.port}/ui`);
    const rows = page.locator("tbody tr");
    await page.waitForFunction((n) => document.querySelectorAll("tbody tr").length === n, TARGETS);
    assert.equal(await rows.count(), TARGETS);
    assert.equal(
      await rows.first().getAttribute("data-target"),
      "disk042",
      "the degraded target comes first",
    );
    assert.match((await rows.first().textContent()) ?? "", /a metadata copy failed/);
    assert.equal(await rows.first().getAttribute("class"), "alert");

    // Sort by remapped blocks: descending first, ascending on a second activation (keyboard).
    await page.click('th[data-key="remapped"] button');
    const remapped = async () =>
      (await page.locator('tbody td[data-field="remapped"]').allTextContents()).map((t) =>
        Number(t.replace(/,/g, "")),
      );
    const desc = await remapped();
    assert.deepEqual(
      desc,
      [...desc].sort((a, b) => b - a),
    );
    assert.equal(desc[0], TARGETS - 1);
    assert.equal(await page.getAttribute('th[data-key="remapped"]', "aria-sort"), "descending");
    await page.focus('th[data-key="remapped"] button');
    await page.keyboard.press("Enter");
    const asc = await remapped();
    assert.deepEqual(
      asc,
      [...asc].sort((a, b) => a - b),
    );
    await browser.shot("overview-150");

    await page.fill("#filter", "disk01");
    await page.waitForFunction(() => document.querySelectorAll("tbody tr").length === 10);
    assert.match(
      (await page.locator("#overview-summary").textContent()) ?? "",
      /10 of 150 targets, 1 need attention/,
    );
    await page.fill("#filter", "");

    // Acknowledge disk042's alert from its page (with the token), then the overview shows it as seen.
    await page.fill("#token", TOKEN);
    await page.dispatchEvent("#token", "change");
    await page.click('tr[data-target="disk042"] a');
    await page.click("#ack");
    await page.locator("#ack").filter({ hasText: "Alert acknowledged" }).waitFor();
    await page.click('a[href="#/"]');
    const row42 = page.locator('tr[data-target="disk042"]');
    await row42.filter({ hasText: "(acknowledged)" }).waitFor();
    assert.equal(await row42.getAttribute("class"), "");

    // The daemon goes away and comes back on the same address: the page reconnects by itself.
    await page.evaluate(() => ((window as unknown as { marker: number }).marker = 7));
    await server.stop();
    await page.locator("#live").filter({ hasText: "reconnecting" }).waitFor();
    targets[0]!.remaps.set(4000, 1);
    await server.start(`tcp:127.0.0.1:${at.port}`);
    await page
      .locator("#live")
      .filter({ hasText: /^live$/ })
      .waitFor();
    await page
      .locator('tr[data-target="disk000"] [data-field="remapped"]')
      .filter({ hasText: /^1$/ })
      .waitFor();
    assert.equal(
      await page.evaluate(() => (window as unknown as { marker?: number }).marker),
      7,
      "no reload",
    );
  } finally {
    await browser?.close();
    await server.stop();
  }
});
