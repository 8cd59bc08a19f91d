// The fleet examples stay true: the Grafana dashboard and the alert rules query only metrics (and
// labels) the daemon's metrics registry has, every PromQL expression parses (promtool), and the
// Prometheus scrape config is valid.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createMetrics } from "../../src/daemon/metrics.js";
import { run } from "../e2e/harness.js";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const EXAMPLES = join(ROOT, "examples");

/** Every metric name the daemon can serve (histograms with their series suffixes) and its labels. */
function registryMetrics(): Map<string, Set<string>> {
  const { registry } = createMetrics({ processMetrics: false });
  const out = new Map<string, Set<string>>();
  for (const metric of registry.getMetricsAsArray()) {
    const { name, labelNames } = metric as unknown as { name: string; labelNames: string[] };
    const labels = new Set([...labelNames, "instance", "job"]);
    const histogram =
      (metric as unknown as { constructor: { name: string } }).constructor.name === "Histogram" ||
      (metric as unknown as { type?: string }).type === "histogram";
    for (const suffix of histogram ? ["_bucket", "_sum", "_count"] : [""]) {
      out.set(name + suffix, suffix === "_bucket" ? new Set([...labels, "le"]) : labels);
    }
  }
  return out;
}

/** Every PromQL expression of the dashboard: panel targets and templating queries. */
function dashboardExpressions(): string[] {
  const dashboard = JSON.parse(readFileSync(join(EXAMPLES, "grafana-dashboard.json"), "utf8")) as {
    panels: { targets?: { expr: string }[] }[];
    templating: { list: { definition?: string }[] };
  };
  return [
    ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)),
    ...dashboard.templating.list.flatMap((v) => (v.definition ? [v.definition] : [])),
  ];
}

function alertExpressions(): string[] {
  return [...readFileSync(join(EXAMPLES, "alerts.yml"), "utf8").matchAll(/^\s+expr: (.+)$/gm)].map(
    (m) => m[1]!,
  );
}

/** Check names and grouping labels of one expression against the registry. */
function checkExpression(expr: string, metrics: Map<string, Set<string>>): void {
  const names = [...expr.matchAll(/\b(dmremap_[a-z_]+)\b/g)].map((m) => m[1]!);
  for (const name of names) assert.ok(metrics.has(name), `"${name}" in ${expr} is not a dmremap metric`);
  const known = new Set([...names.flatMap((n) => [...metrics.get(n)!]), "site"]);
  for (const group of expr.matchAll(/\bby \(([^)]*)\)/g)) {
    for (const label of group[1]!.split(",").map((l) => l.trim())) {
      assert.ok(known.has(label), `label "${label}" in ${expr} is not a label of ${names.join(", ")}`);
    }
  }
  for (const matcher of expr.matchAll(/([a-z_]+)\s*(?:=~|!=|=)\s*"/g)) {
    if (names.length > 0) assert.ok(known.has(matcher[1]!), `matcher label "${matcher[1]}" in ${expr}`);
  }
}

test("the dashboard and the alert rules use only metrics and labels the registry serves", () => {
  const metrics = registryMetrics();
  assert.ok(metrics.has("dmremap_target_state"), "the registry is read");
  const exprs = [...dashboardExpressions(), ...alertExpressions()];
  assert.ok(exprs.length >= 20);
  for (const expr of exprs) checkExpression(expr, metrics);
  const used = new Set(exprs.flatMap((e) => [...e.matchAll(/\b(dmremap_[a-z_]+)\b/g)].map((m) => m[1]!)));
  for (const name of ["dmremap_target_state", "dmremap_spare_blocks_used", "dmremap_pending_blocks"]) {
    assert.ok(used.has(name), `the dashboard shows ${name}`);
  }
});

test("promtool parses the alert rules, every dashboard expression and the scrape config", async () => {
  const found = await run("sh", ["-c", "command -v promtool"]);
  assert.equal(found.code, 0, "promtool is installed (Debian package prometheus, in .ci/run)");
  const rules = await run("promtool", ["check", "rules", join(EXAMPLES, "alerts.yml")]);
  assert.equal(rules.code, 0, rules.stdout + rules.stderr);

  const dir = mkdtempSync(join(tmpdir(), "dmremap-promql-"));
  try {
    // Grafana variables replaced by what they expand to, each expression as a recording rule.
    const exprs = dashboardExpressions()
      .filter((e) => !e.startsWith("label_values("))
      .map((e) => e.replace(/\$__rate_interval/g, "5m").replace(/\$(instance|target)/g, ".*"));
    const text = [
      "groups:",
      "  - name: dashboard",
      "    rules:",
      ...exprs.flatMap((e, i) => [
        `      - record: dashboard:expr${i}`,
        `        expr: ${JSON.stringify(e)}`,
      ]),
    ].join("\n");
    writeFileSync(join(dir, "dashboard-rules.yml"), `${text}\n`);
    const parsed = await run("promtool", ["check", "rules", join(dir, "dashboard-rules.yml")]);
    assert.equal(parsed.code, 0, parsed.stdout + parsed.stderr);
    assert.match(parsed.stdout, new RegExp(`SUCCESS: ${exprs.length} rules found`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const config = await run("promtool", ["check", "config", join(EXAMPLES, "prometheus.yml")]);
  assert.equal(config.code, 0, config.stdout + config.stderr);
  assert.match(config.stdout, /SUCCESS: 1 rule files found/);
});
