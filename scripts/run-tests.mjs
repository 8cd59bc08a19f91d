// Runs every compiled test file (dist/**/*.test.js) under node's test runner; optional path prefixes filter.
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path, out);
    else if (name.endsWith(".test.js")) out.push(path);
  }
  return out;
}

const filters = process.argv.slice(2);
const files = walk("dist", [])
  .filter((f) => filters.length === 0 || filters.some((p) => f.startsWith(join("dist", p))))
  .sort();
if (files.length === 0) {
  console.error("run-tests: no test files found under dist/ (did the build run?)");
  process.exit(1);
}
const reporter = process.env.TEST_REPORTER ?? "spec";
const result = spawnSync(
  process.execPath,
  ["--test", "--test-timeout=300000", `--test-reporter=${reporter}`, ...files],
  {
    stdio: "inherit",
  },
);
process.exit(result.status ?? 1);
