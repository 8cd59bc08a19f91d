// The forecast backtest runs in the suite: synthetic traces with known truth, coverage table printed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { backtestTable, runBacktest } from "./backtest.js";

test("forecast backtest: calibrated intervals, steady medians, early replace, silent on healthy disks", () => {
  const result = runBacktest(20, 7);
  console.log(`\n${backtestTable(result)}\n`);
  const row = (kind: string) => result.rows.find((r) => r.kind === kind)!;
  assert.ok(
    result.overallCoverage >= 0.7 && result.overallCoverage <= 0.9,
    `P10-P90 covers the truth in ${result.overallCoverage} of cases (target 70-90 %)`,
  );
  assert.ok(
    row("steady").medianP50Error <= 0.25,
    "steady traces: median |P50 error| <= 25 % after >= 10 events",
  );
  assert.ok(
    row("accelerating").medianReplaceLeadHours! >= 48,
    "accelerating: replace fires >= 48 h ahead (median)",
  );
  assert.equal(row("accelerating").replaceFired, 20);
  assert.equal(row("none").replaceFired, 0, "healthy traces never reach replace");
});
