// Dashboard figures (printed, never pass/fail): first meaningful paint of the overview, the block map
// of a 16 TiB sparse main with 1,000 remaps (server time and fetch + draw in the browser), and a chart
// of 10^5 points (build, setData, cursor move). Real daemon, headless Debian Chromium via playwright-core.
// Run: npm run build && node dist/bench/dashboard-bench.js
import { mkdtemp, rm, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { readyAddresses, startProgram } from "../test/e2e/harness.js";
import { api } from "../test/e2e/tools.js";
import { launchBrowser } from "../test/e2e/dashboard-browser.js";

const TIB = 2 ** 40;
const TOKEN = "dashboard-bench-token-0123";
const REMAPS = 1000;
const ROUNDS = 5;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function main(): Promise<void> {
  // tmpfs: ext4 cannot hold a 16 TiB file, tmpfs keeps it sparse.
  const dir = await mkdtemp(join(process.env.BENCH_DIR ?? "/dev/shm", "dmremap-dash-"));
  const program = await startProgram(["serve", "--config", await config(dir)], { readyTimeoutMs: 120_000 });
  const browser = await launchBrowser();
  try {
    const base = readyAddresses(program).api;
    const blockCount = (16 * TIB) / 4096;
    const step = Math.floor(blockCount / REMAPS);
    const blocks = Array.from({ length: REMAPS }, (_, i) => i * step + (i % 7));
    const remap = await api(base, "POST", "/v1/targets/big/remap", {
      body: { blocks },
      token: TOKEN,
      timeoutMs: 300_000,
    });
    if (remap.status !== 200) throw new Error(`remap failed: ${remap.text}`);

    const server: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const t0 = performance.now();
      const map = await api(base, "GET", "/v1/targets/big/blockmap?cells=4096");
      server.push(performance.now() - t0);
      if ((map.json as { totals: { remapped: number } }).totals.remapped !== REMAPS)
        throw new Error("map lost remaps");
    }

    const { page } = browser;
    const origin = `http://${base.slice("tcp:".length)}`;
    const paints: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      await page.goto(`${origin}/ui#/`);
      await page.locator('tr[data-target="big"]').waitFor();
      paints.push(await page.evaluate(() => performance.now()));
    }
    const renders: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      await page.goto(`${origin}/ui#/target/big`);
      await page.waitForFunction(() => document.getElementById("block-map")?.dataset.renderMs !== undefined);
      renders.push(Number(await page.locator("#block-map").getAttribute("data-render-ms")));
    }
    const probe = await page.evaluate(() => {
      const host = document.createElement("div");
      host.style.width = "1200px";
      document.body.append(host);
      type Probe = (
        h: HTMLElement,
        n: number,
      ) => Promise<{ buildMs: number; setDataMs: number; cursorMs: number }>;
      return (window as unknown as { dmremapChartProbe: Probe }).dmremapChartProbe(host, 100_000);
    });

    const rows: [string, string][] = [
      ["overview first meaningful paint (navigation to first target row)", `${median(paints).toFixed(0)} ms`],
      ["16 TiB main, 1,000 remaps: GET blockmap, 4,096 cells (server)", `${median(server).toFixed(1)} ms`],
      ["16 TiB main, 1,000 remaps: block map fetch + draw (browser)", `${median(renders).toFixed(1)} ms`],
      ["chart of 10^5 points: build", `${probe.buildMs.toFixed(1)} ms`],
      ["chart of 10^5 points: setData (redraw)", `${probe.setDataMs.toFixed(1)} ms`],
      ["chart of 10^5 points: cursor move", `${probe.cursorMs.toFixed(2)} ms`],
    ];
    console.log(`| measure (median of ${ROUNDS}) | value |\n| --- | --- |`);
    for (const [k, v] of rows) console.log(`| ${k} | ${v} |`);
  } finally {
    await browser.close();
    await program.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

async function config(dir: string): Promise<string> {
  await writeFile(join(dir, "main.img"), "");
  await truncate(join(dir, "main.img"), 16 * TIB);
  await writeFile(join(dir, "spare.img"), "");
  await truncate(join(dir, "spare.img"), 64 * 2 ** 20);
  await writeFile(join(dir, "token"), `${TOKEN}\n`, { mode: 0o600 });
  const path = join(dir, "dmremap.toml");
  await writeFile(
    path,
    `[daemon]
data_dir = "${dir}"
[api]
listen = "tcp:127.0.0.1:0"
token_file = "${dir}/token"
[nbd]
listen = ["unix:${dir}/nbd.sock"]
[[target]]
name = "big"
main = "${dir}/main.img"
spares = ["${dir}/spare.img"]
create = true
[target.scan]
mode = "manual"
[target.forecast]
smart = "off"
`,
  );
  return path;
}

await main();
