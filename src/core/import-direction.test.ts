// Fails on any upward import between src/ folders (the order is declared once, in layers.ts), on any
// import of test support from production code, and on any reach into a RemappedDevice's core
// from outside src/remap/.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { importProblem, LAYERS, TEST_SUPPORT_FOLDER } from "./layers.js";

/** src/ of the checkout (this file runs from dist/src/core/). */
const SRC = fileURLToPath(new URL("../../../src/", import.meta.url));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

/** Every module specifier a file imports or re-exports, including `import("...")`. */
function specifiers(file: string): string[] {
  const info = ts.preProcessFile(readFileSync(file, "utf8"), true, true);
  return info.importedFiles.map((f) => f.fileName);
}

const isTestSupport = (path: string) => path.split(sep).includes(TEST_SUPPORT_FOLDER);
const isTestFile = (path: string) => /\.(test|contract)\.ts$/.test(path);

/** Every import of a relative path that leaves the file's top-level folder: [file, target]. */
function crossImports(): { file: string; target: string }[] {
  const out: { file: string; target: string }[] = [];
  for (const file of sourceFiles(SRC)) {
    for (const spec of specifiers(file)) {
      if (!spec.startsWith(".")) continue;
      out.push({ file: relative(SRC, file), target: relative(SRC, resolve(dirname(file), spec)) });
    }
  }
  return out;
}

describe("import direction", () => {
  const imports = crossImports();

  it("sees the whole tree", () => {
    assert.ok(imports.length > 200, `${imports.length} imports found under ${SRC}`);
  });

  it("every top-level src/ folder is declared in layers.ts", () => {
    const folders = readdirSync(SRC, { withFileTypes: true })
      .filter((e) => e.isDirectory() && e.name !== TEST_SUPPORT_FOLDER)
      .map((e) => e.name);
    const declared = LAYERS.flat();
    assert.deepEqual(
      folders.filter((f) => !declared.includes(f)),
      [],
    );
  });

  it("no src/ folder imports a folder above it or beside it", () => {
    const problems: string[] = [];
    for (const { file, target } of imports) {
      const from = file.split(sep)[0]!;
      const to = target.split(sep)[0]!;
      if (target.startsWith("..")) problems.push(`${file}: imports ${target}, outside src/`);
      else if (from === TEST_SUPPORT_FOLDER || to === TEST_SUPPORT_FOLDER) continue;
      else {
        const problem = importProblem(from, to);
        if (problem) problems.push(`${file} imports ${target}: ${problem}`);
      }
    }
    assert.deepEqual(problems, []);
  });

  it("only tests, contract suites and test support import test support", () => {
    const problems = imports
      .filter(({ file, target }) => isTestSupport(target) && !isTestSupport(file) && !isTestFile(file))
      .map(({ file, target }) => `${file} imports test support ${target}`);
    assert.deepEqual(problems, []);
  });

  it("nothing outside src/remap/ reaches into a RemappedDevice's core", () => {
    const problems: string[] = [];
    for (const file of sourceFiles(SRC)) {
      const rel = relative(SRC, file);
      if (rel.startsWith(`remap${sep}`) || rel === join("core", "import-direction.test.ts")) continue;
      const text = readFileSync(file, "utf8").replace(/\/\/.*$/gm, "");
      if (/\.core\b(?!\/)|\{\s*core\s*\}\s*=/.test(text)) problems.push(rel);
    }
    assert.deepEqual(problems, [], "use RemappedDevice verbs instead of device.core");
  });

  it("layers.ts itself rejects upward and sideways imports", () => {
    assert.equal(importProblem("cli", "core"), undefined);
    assert.equal(importProblem("remap", "metadata"), undefined);
    assert.match(String(importProblem("block", "nbd")), /below/);
    assert.match(String(importProblem("nbd", "remap")), /same layer/);
    assert.match(String(importProblem("block", "gui")), /not declared/);
  });
});
