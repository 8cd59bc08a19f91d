// Tests of the Prometheus adapter: exposition text parses, types are right, values follow the targets'
// status between scrapes, and the request histogram records observations.

import { OP_READ, OP_WRITE, REQUEST_OPS, RequestTimes } from "../core/request-times.js";
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { register as globalRegister } from "prom-client";
import { FakeControlTarget } from "./fake-control-target.js";
import { createMetrics } from "./metrics.js";
import { silentLogger, type Logger } from "./logger.js";

interface Exposition {
  types: Map<string, string>;
  help: Map<string, string>;
  /** "name{a="x",b="y"}" (labels sorted) -> value */
  samples: Map<string, number>;
}

/** A small parser of the Prometheus text format; fails on any line it does not understand. */
function parseExposition(text: string): Exposition {
  const out: Exposition = { types: new Map(), help: new Map(), samples: new Map() };
  for (const line of text.split("\n")) {
    if (line === "") continue;
    let m = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (m) {
      (m[1] === "HELP" ? out.help : out.types).set(m[2]!, m[3]!);
      continue;
    }
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (-?[0-9.e+-]+|[Nn]a[Nn]|[+-]Inf)$/.exec(line);
    assert.ok(m, `unparseable exposition line: ${line}`);
    const labels = [...(m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)]
      .map(([, k, v]) => `${k}="${v}"`)
      .sort();
    const key = labels.length ? `${m[1]}{${labels.join(",")}}` : m[1]!;
    assert.ok(!out.samples.has(key), `duplicate series ${key}`);
    out.samples.set(key, Number(m[3]));
  }
  return out;
}

async function scrape(metrics: ReturnType<typeof createMetrics>): Promise<Exposition> {
  return parseExposition(await metrics.render());
}

describe("createMetrics", () => {
  it("exports every status-backed metric with the right type and value", async () => {
    const disk = new FakeControlTarget({ name: "disk0", exportName: "exp0", spareSlots: 10 });
    const metrics = createMetrics({ targets: () => [disk] });
    assert.match(metrics.contentType, /^text\/plain/);
    await disk.remapBlock(4);
    await disk.markPending(9);
    disk.errors.read = 3;
    disk.io.bytesRead = 8192;
    disk.io.bytesWritten = 4096;
    disk.copies = [
      { device: "file:/s0", slot: "A", state: "ok" },
      { device: "file:/s1", slot: "B", state: "stale" },
    ];
    const e = await scrape(metrics);
    const types: Record<string, string> = {
      dmremap_targets: "gauge",
      dmremap_target_info: "gauge",
      dmremap_target_state: "gauge",
      dmremap_remapped_blocks: "gauge",
      dmremap_pending_blocks: "gauge",
      dmremap_lost_sectors: "gauge",
      dmremap_spare_blocks_total: "gauge",
      dmremap_spare_blocks_used: "gauge",
      dmremap_spare_nearly_exhausted: "gauge",
      dmremap_metadata_generation: "gauge",
      dmremap_metadata_copy_healthy: "gauge",
      dmremap_io_errors_total: "counter",
      dmremap_remaps_total: "counter",
      dmremap_read_bytes_total: "counter",
      dmremap_written_bytes_total: "counter",
      dmremap_request_duration_seconds: "histogram",
    };
    for (const [name, type] of Object.entries(types)) {
      assert.equal(e.types.get(name), type, name);
      assert.ok(e.help.get(name), `${name} has help`);
    }
    const s = e.samples;
    assert.equal(s.get("dmremap_targets"), 1);
    assert.equal(
      s.get('dmremap_target_info{export="exp0",target="disk0",uuid="00000000-0000-4000-8000-000000000001"}'),
      1,
    );
    assert.equal(s.get('dmremap_target_state{state="healthy",target="disk0"}'), 1);
    assert.equal(s.get('dmremap_target_state{state="read-only",target="disk0"}'), 0);
    assert.equal(s.get('dmremap_remapped_blocks{target="disk0"}'), 1);
    assert.equal(s.get('dmremap_pending_blocks{target="disk0"}'), 1);
    assert.equal(s.get('dmremap_lost_sectors{target="disk0"}'), 0);
    assert.equal(s.get('dmremap_spare_blocks_total{target="disk0"}'), 10);
    assert.equal(s.get('dmremap_spare_blocks_used{target="disk0"}'), 1);
    assert.equal(s.get('dmremap_spare_nearly_exhausted{target="disk0"}'), 0);
    assert.equal(s.get('dmremap_metadata_generation{target="disk0"}'), disk.generation);
    assert.equal(s.get('dmremap_metadata_copy_healthy{device="file:/s0",slot="A",target="disk0"}'), 1);
    assert.equal(s.get('dmremap_metadata_copy_healthy{device="file:/s1",slot="B",target="disk0"}'), 0);
    assert.equal(s.get('dmremap_io_errors_total{op="read",target="disk0"}'), 3);
    assert.equal(s.get('dmremap_io_errors_total{op="write",target="disk0"}'), 0);
    assert.equal(s.get('dmremap_remaps_total{reason="manual",target="disk0"}'), 1);
    assert.equal(s.get('dmremap_read_bytes_total{target="disk0"}'), 8192);
    assert.equal(s.get('dmremap_written_bytes_total{target="disk0"}'), 4096);
  });

  it("follows status changes between scrapes and drops series of removed targets", async () => {
    const a = new FakeControlTarget({ name: "a", spareSlots: 10 });
    const b = new FakeControlTarget({ name: "b" });
    let targets = [a, b];
    const metrics = createMetrics({ targets: () => targets });
    const before = (await scrape(metrics)).samples;
    assert.equal(before.get('dmremap_remapped_blocks{target="a"}'), 0);
    assert.equal(before.get('dmremap_spare_nearly_exhausted{target="a"}'), 0);

    for (let block = 0; block < 9; block++) await a.remapBlock(block);
    a.errors.write = 9;
    a.state = "read-only";
    const after = (await scrape(metrics)).samples;
    assert.equal(after.get('dmremap_remapped_blocks{target="a"}'), 9);
    assert.equal(after.get('dmremap_spare_blocks_used{target="a"}'), 9);
    assert.equal(after.get('dmremap_spare_nearly_exhausted{target="a"}'), 1);
    assert.equal(after.get('dmremap_io_errors_total{op="write",target="a"}'), 9);
    assert.equal(after.get('dmremap_remaps_total{reason="manual",target="a"}'), 9);
    assert.equal(after.get('dmremap_target_state{state="read-only",target="a"}'), 1);
    assert.equal(after.get('dmremap_target_state{state="healthy",target="a"}'), 0);

    targets = [a];
    const fewer = (await scrape(metrics)).samples;
    assert.equal(fewer.get("dmremap_targets"), 1);
    assert.equal(fewer.has('dmremap_remapped_blocks{target="b"}'), false);
    assert.equal(fewer.get('dmremap_remapped_blocks{target="a"}'), 9);
  });

  it("records request durations in the histogram", async () => {
    const metrics = createMetrics();
    const times = new RequestTimes();
    times.add(OP_READ, 0.0003);
    times.add(OP_WRITE, 2);
    times.add(OP_READ, 0.02);
    times.add(REQUEST_OPS.indexOf("flush"), 0.001);
    metrics.observeRequests("d", times);
    const s = (await scrape(metrics)).samples;
    assert.equal(s.get('dmremap_request_duration_seconds_count{op="read",target="d"}'), 2);
    assert.equal(s.get('dmremap_request_duration_seconds_bucket{le="0.0005",op="read",target="d"}'), 1);
    assert.equal(s.get('dmremap_request_duration_seconds_bucket{le="+Inf",op="read",target="d"}'), 2);
    assert.ok(Math.abs(s.get('dmremap_request_duration_seconds_sum{op="read",target="d"}')! - 0.0203) < 1e-9);
    assert.equal(s.get('dmremap_request_duration_seconds_bucket{le="1",op="write",target="d"}'), 0);
    assert.equal(s.get('dmremap_request_duration_seconds_bucket{le="2.5",op="write",target="d"}'), 1);
    assert.equal(s.get('dmremap_request_duration_seconds_count{op="flush",target="d"}'), 1);
  });

  it("uses its own registry, and a failing target does not break the scrape", async () => {
    const good = new FakeControlTarget({ name: "good" });
    const bad = new FakeControlTarget({ name: "bad" });
    bad.status = () => {
      throw new Error("closed");
    };
    const warnings: string[] = [];
    const logger: Logger = {
      ...silentLogger,
      warn: (msg: string) => void warnings.push(msg),
      child: () => logger,
    };
    const metrics = createMetrics({ targets: () => [bad, good], logger });
    const s = (await scrape(metrics)).samples;
    assert.equal(s.get('dmremap_remapped_blocks{target="good"}'), 0);
    assert.equal(s.has('dmremap_remapped_blocks{target="bad"}'), false);
    assert.deepEqual(warnings, ["metrics: status of target failed"]);
    assert.equal(globalRegister.getSingleMetric("dmremap_targets"), undefined);
    const two = createMetrics({ processMetrics: true });
    const e = await scrape(two);
    assert.ok(
      [...e.types.keys()].some((name) => name.startsWith("process_")),
      "process metrics are present",
    );
  });
});
