// The dashboard's built browser assets (index.html, app.js, app.css), read once from the folder the
// bundler writes (dist/src/web/assets, made by `npm run build`) and served from memory.
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";

/** Where `npm run build` puts the bundle (next to this module once compiled). */
export const ASSETS_DIR = fileURLToPath(new URL("./assets/", import.meta.url));

/** The files of the bundle and their content types. */
export const ASSET_TYPES: Readonly<Record<string, string>> = {
  "index.html": "text/html; charset=utf-8",
  "app.js": "text/javascript; charset=utf-8",
  "app.css": "text/css; charset=utf-8",
};

/** One asset: its text and content type. */
export interface Asset {
  readonly text: string;
  readonly contentType: string;
}

const cache = new Map<string, Promise<Asset | undefined>>();

/** The asset named `name`, or undefined when it is not part of the bundle or was not built. */
export function loadAsset(name: string, dir = ASSETS_DIR): Promise<Asset | undefined> {
  const contentType = ASSET_TYPES[name];
  if (contentType === undefined) return Promise.resolve(undefined);
  const key = `${dir}\0${name}`;
  let found = cache.get(key);
  if (!found) {
    found = readFile(`${dir}${name}`, "utf8").then(
      (text) => ({ text, contentType }),
      () => {
        // Not built yet: look again next time rather than caching the absence.
        cache.delete(key);
        return undefined;
      },
    );
    cache.set(key, found);
  }
  return found;
}
