// Headless Chromium for the dashboard tests: Debian's /usr/bin/chromium driven by playwright-core (no
// browser download), a fresh profile per launch, screenshots under test-artifacts/dashboard/.
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { requireTools } from "./tools.js";

/** Where screenshots go (gitignored). */
export const ARTIFACTS = fileURLToPath(new URL("../../../test-artifacts/dashboard/", import.meta.url));

/** The Chromium of Debian's `chromium` package. */
export const CHROMIUM = "/usr/bin/chromium";

/** A browser with one page. */
export interface Browser {
  readonly context: BrowserContext;
  readonly page: Page;
  /** Save a full-page screenshot as ARTIFACTS/NAME.png; returns its path. */
  shot(name: string): Promise<string>;
  close(): Promise<void>;
}

/** Launch headless Chromium with a fresh profile (playwright passes it as --user-data-dir). */
export async function launchBrowser(
  options: { width?: number; height?: number; dark?: boolean } = {},
): Promise<Browser> {
  await requireTools(CHROMIUM);
  const profile = await mkdtemp(join(tmpdir(), "dmremap-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    viewport: { width: options.width ?? 1280, height: options.height ?? 800 },
    colorScheme: options.dark ? "dark" : "light",
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const errors: string[] = [];
  page.on("pageerror", (err) => errors.push(String(err)));
  return {
    context,
    page,
    async shot(name) {
      await mkdir(ARTIFACTS, { recursive: true });
      const path = join(ARTIFACTS, `${name}.png`);
      await page.screenshot({ path, fullPage: true });
      return path;
    },
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
      if (errors.length) throw new Error(`the page threw:\n${errors.join("\n")}`);
    },
  };
}
