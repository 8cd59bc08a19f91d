// The one declaration of how src/ folders may depend on each other; the import-direction test
// enforces it on every .ts file under src/.

/**
 * Source folders from top to bottom. A folder imports only from itself and from folders in later
 * rows; folders in the same row (e.g. nbd and remap) do not import each other.
 */
export const LAYERS: readonly (readonly string[])[] = [
  ["cli"],
  ["daemon"],
  ["web"],
  ["health", "spares", "formats"],
  ["nbd", "remap"],
  ["metadata"],
  ["block"],
  ["core"],
];

/**
 * A folder named `testing` (src/testing/, src/remap/testing/, ...) is test support: it may import any
 * folder, and only test files (`*.test.ts`), contract suites (`*.contract.ts`) and other testing
 * files may import it. bench/ and test/ are outside src/ and may import anything.
 */
export const TEST_SUPPORT_FOLDER = "testing";

/** Row of a top-level src/ folder in LAYERS, or -1 for a folder that is not declared. */
export function layerOf(folder: string): number {
  return LAYERS.findIndex((row) => row.includes(folder));
}

/** Why `fromFolder` may not import `toFolder`, or undefined when it may. */
export function importProblem(fromFolder: string, toFolder: string): string | undefined {
  if (fromFolder === toFolder) return undefined;
  const from = layerOf(fromFolder);
  const to = layerOf(toFolder);
  if (from < 0) return `src/${fromFolder}/ is not declared in src/core/layers.ts`;
  if (to < 0) return `src/${toFolder}/ is not declared in src/core/layers.ts`;
  if (to === from)
    return `${fromFolder}/ and ${toFolder}/ are on the same layer and must not import each other`;
  if (to < from) return `${fromFolder}/ is below ${toFolder}/ and must not import it`;
  return undefined;
}
