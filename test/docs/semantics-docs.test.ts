// docs/SEMANTICS.md stays true: promises 1-18 each have a row, every test file it names exists, and
// no document or source cites the contract from outside the repository.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const text = readFileSync(join(ROOT, "docs/SEMANTICS.md"), "utf8");

test("every promise 1-18 has a row naming its tests (or saying it is being built)", () => {
  const rows = new Map([...text.matchAll(/^\| (\d+) +\|(.*)$/gm)].map((m) => [Number(m[1]), m[2]!]));
  assert.deepEqual(
    [...rows.keys()],
    Array.from({ length: 18 }, (_, i) => i + 1),
  );
  for (const [n, row] of rows) {
    const proof = row.split("|").at(-2)!;
    assert.ok(/\.test\.ts`/.test(proof) || /being built/.test(proof), `promise ${n} names a test`);
  }
});

test("every file SEMANTICS.md names exists", () => {
  const paths = [...text.matchAll(/`((?:src|test)\/[^`]+\.ts)`/g)].map((m) => m[1]!);
  assert.ok(paths.length >= 20);
  for (const path of paths) assert.ok(existsSync(join(ROOT, path)), `${path} exists`);
});

function files(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (["node_modules", "dist", ".git", "data"].includes(name)) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) files(path, out);
    else if (/\.(ts|md|mjs|sh|json|yml|toml|service)$/.test(name)) out.push(path);
  }
  return out;
}

test("nothing cites remap-semantics.md or a folder outside the repository", () => {
  const self = fileURLToPath(import.meta.url)
    .replace(/\/dist\//, "/")
    .replace(/\.js$/, ".ts");
  for (const path of files(ROOT)) {
    if (path === self) continue;
    const content = readFileSync(path, "utf8");
    assert.ok(!content.includes("remap-semantics.md"), `${relative(ROOT, path)} cites remap-semantics.md`);
    assert.ok(!content.includes("../shared"), `${relative(ROOT, path)} cites ../shared`);
  }
});
