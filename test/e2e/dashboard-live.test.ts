// End-to-end: the dashboard of the real daemon in headless Chromium. Overview and target page load;
// a fault injected over the API plus a client write (nbdsh) to the bad block shows up in the counters
// and the block map cell without a reload; a scan started from the page moves its progress; the
// actions need the token. Screenshots land in test-artifacts/dashboard/.
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { readyAddresses, startProgram, tempDir, type RunningProgram } from "./harness.js";
import { api, nbdsh, nbdUnixUri, requireTools, sparseFile } from "./tools.js";
import { launchBrowser, type Browser } from "./dashboard-browser.js";

const MIB = 1 << 20;
const TOKEN = "dashboard-e2e-token";
/** The block the client writes to after it went bad (4 KiB blocks, 256 MiB main: 65536 blocks). */
const BAD = 9000;

function config(dir: string): string {
  return `[daemon]
data_dir = "${dir}"
[api]
listen = "tcp:127.0.0.1:0"
token_file = "${dir}/token"
[nbd]
listen = ["unix:${dir}/nbd.sock"]
[[target]]
name = "disk0"
main = "${dir}/main.img"
spares = ["${dir}/spare.img"]
create = true
[target.scan]
mode = "manual"
rate = 1
# The sweep itself, not the neighbourhood of the new bad block first (that does not move "scanned").
neighbourhood_mib = 0
[target.forecast]
evaluate_every = "1s"
smart = "off"
[target.faults]
enabled = true
`;
}

/** The background colour the page uses for `kind` cells, as the canvas stores it (r,g,b). */
async function cellRgb(b: Browser, cell: number): Promise<string> {
  return b.page.evaluate((i) => {
    const canvas = document.getElementById("block-map") as HTMLCanvasElement;
    const cols = Number(canvas.dataset.cols);
    const px = Number(canvas.dataset.cellPx);
    const dpr = window.devicePixelRatio || 1;
    const x = ((i % cols) * px + px / 2 - 1) * dpr;
    const y = (Math.floor(i / cols) * px + px / 2 - 1) * dpr;
    const [r, g, bl] = canvas.getContext("2d")!.getImageData(x, y, 1, 1).data;
    return `${r},${g},${bl}`;
  }, cell);
}

async function cssRgb(b: Browser, variable: string): Promise<string> {
  return b.page.evaluate((v) => {
    const probe = document.createElement("span");
    probe.style.color = getComputedStyle(document.documentElement).getPropertyValue(v).trim();
    document.body.append(probe);
    const rgb = getComputedStyle(probe).color.match(/\d+/g)!.slice(0, 3).join(",");
    probe.remove();
    return rgb;
  }, variable);
}

test("dashboard: overview and target page follow a bad block and a scan live", async () => {
  await requireTools("nbdsh");
  const dir = await tempDir();
  let program: RunningProgram | undefined;
  let browser: Browser | undefined;
  try {
    // Big enough that a pass at 1 MiB/s outlasts the test: the scan is still running when paused.
    await sparseFile(join(dir.path, "main.img"), 256 * MIB);
    await sparseFile(join(dir.path, "spare.img"), 4 * MIB);
    await writeFile(join(dir.path, "token"), `${TOKEN}\n`, { mode: 0o600 });
    await writeFile(join(dir.path, "dmremap.toml"), config(dir.path));
    program = await startProgram(["serve", "--config", join(dir.path, "dmremap.toml")]);
    const base = readyAddresses(program).api;
    const url = `http://${base.slice("tcp:".length)}/ui`;

    browser = await launchBrowser();
    const { page } = browser;
    const started = Date.now();
    await page.goto(url);
    const row = page.locator('tr[data-target="disk0"]');
    await row.waitFor();
    console.log(`overview: first row painted ${Date.now() - started} ms after navigation`);
    assert.equal(await row.locator('[data-field="remapped"]').textContent(), "0");
    assert.match((await row.textContent()) ?? "", /healthy/);
    await browser.shot("overview");

    // The target page, reached by its link (a hash change: the page is never reloaded from here on).
    await row.locator("a").click();
    await page.locator("#c-remapped").filter({ hasText: "0" }).waitFor();
    await page.waitForFunction(() => document.getElementById("block-map")?.dataset.totals !== undefined);
    await page.evaluate(() => ((window as unknown as { marker: number }).marker = 42));

    // Actions without the token are refused, and the page says why.
    await page.fill("#block", String(BAD));
    await page.click('button[data-block="remap"]');
    await page.locator("#action-result.error").filter({ hasText: /token/ }).waitFor();

    // Inject a fault (API), then a client writes to the bad block: the write error remaps it.
    const fault = await api(base, "POST", "/v1/targets/disk0/faults", {
      body: { kind: "dust", blocks: [BAD] },
      token: TOKEN,
    });
    assert.equal(fault.status, 201, fault.text);
    const write = await nbdsh(
      nbdUnixUri(join(dir.path, "nbd.sock"), "disk0"),
      `h.pwrite(b"\\xab" * 4096, ${BAD * 4096})`,
    );
    assert.equal(write.code, 0, write.stderr);

    await page.locator("#c-remapped").filter({ hasText: /^1$/ }).waitFor();
    await page.waitForFunction(
      () => JSON.parse(document.getElementById("block-map")!.dataset.totals!).remapped === 1,
    );
    const cellItem = page.locator('#map-cells li[data-kind="remapped"]');
    await cellItem.waitFor({ state: "attached" });
    const cell = Number(await cellItem.getAttribute("data-cell"));
    const text = (await cellItem.textContent()) ?? "";
    const [, first, last] = /blocks? ([\d,]+)(?:–([\d,]+))?/.exec(text)!;
    const lo = Number(first!.replace(/,/g, ""));
    const hi = Number((last ?? first)!.replace(/,/g, ""));
    assert.ok(lo <= BAD && BAD <= hi, `the remapped cell ${cell} (${text}) holds block ${BAD}`);
    assert.equal(
      await cellRgb(browser, cell),
      await cssRgb(browser, "--map-remapped"),
      "the cell is drawn as remapped",
    );
    await page
      .locator("#events li")
      .filter({ hasText: `block ${BAD} remapped` })
      .waitFor();
    assert.equal(
      await page.evaluate(() => (window as unknown as { marker?: number }).marker),
      42,
      "no reload",
    );
    await browser.shot("target-remapped");

    // Keyboard: the map takes focus, Enter zooms into the focused cell, Escape zooms out.
    const range = page.locator("#map-range");
    const whole = await range.textContent();
    await page.focus("#block-map");
    await page.keyboard.press("Enter");
    await page.waitForFunction((w) => document.getElementById("map-range")!.textContent !== w, whole);
    assert.match((await range.textContent()) ?? "", /1 block per cell/);
    await page.keyboard.press("Escape");
    await page.waitForFunction((w) => document.getElementById("map-range")!.textContent === w, whole);

    // With the token: start a scan from the page and watch its progress move.
    await page.fill("#token", TOKEN);
    await page.dispatchEvent("#token", "change");
    await page.click('button[data-scan="start"]');
    await page.locator("#action-result").filter({ hasText: "scan start: done" }).waitFor();
    const percent = async () =>
      Number(((await page.locator("#scan-percent").textContent()) ?? "").replace("%", ""));
    await page.waitForFunction(
      () => parseFloat(document.getElementById("scan-percent")?.textContent ?? "0") > 0,
    );
    const p1 = await percent();
    await page.waitForFunction(
      (p) => parseFloat(document.getElementById("scan-percent")?.textContent ?? "0") > p,
      p1,
    );
    const p2 = await percent();
    assert.ok(p2 > p1, `scan progress moved: ${p1}% -> ${p2}%`);
    await browser.shot("target-scanning");
    await page.click('button[data-scan="pause"]');
    await page.locator("#c-scan").filter({ hasText: "paused" }).waitFor();

    // Back to the overview (hash change): the row shows the remap and the scan.
    await page.click('a[href="#/"]');
    const updated = page.locator('tr[data-target="disk0"]');
    await updated.locator('[data-field="remapped"]').filter({ hasText: /^1$/ }).waitFor();
    assert.match((await updated.locator('[data-field="scan"]').textContent()) ?? "", /paused/);
    assert.equal(
      await page.evaluate(() => (window as unknown as { marker?: number }).marker),
      42,
      "no reload",
    );
  } finally {
    await browser?.close();
    await program?.stop();
    await dir.cleanup();
  }
});

test("dashboard: phone width in the dark theme fits the screen", async () => {
  const dir = await tempDir();
  let program: RunningProgram | undefined;
  let browser: Browser | undefined;
  try {
    await sparseFile(join(dir.path, "main.img"), 64 * MIB);
    await sparseFile(join(dir.path, "spare.img"), 4 * MIB);
    await writeFile(join(dir.path, "token"), `${TOKEN}\n`, { mode: 0o600 });
    await writeFile(join(dir.path, "dmremap.toml"), config(dir.path));
    program = await startProgram(["serve", "--config", join(dir.path, "dmremap.toml")]);
    const base = readyAddresses(program).api;
    for (const block of [100, 101, 5000]) {
      const r = await api(base, "POST", "/v1/targets/disk0/remap", {
        body: { blocks: [block] },
        token: TOKEN,
      });
      assert.equal(r.status, 200, r.text);
    }
    browser = await launchBrowser({ width: 390, height: 844, dark: true });
    const { page } = browser;
    await page.goto(`http://${base.slice("tcp:".length)}/ui#/target/disk0`);
    await page.locator("#c-remapped").filter({ hasText: /^3$/ }).waitFor();
    await page.waitForFunction(
      () => JSON.parse(document.getElementById("block-map")?.dataset.totals ?? "{}").remapped === 3,
    );
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the page is ${overflow} px wider than a phone screen`);
    const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    assert.equal(bg, "rgb(15, 20, 25)", "the dark theme follows the system preference");
    await browser.shot("target-phone-dark");
  } finally {
    await browser?.close();
    await program?.stop();
    await dir.cleanup();
  }
});
