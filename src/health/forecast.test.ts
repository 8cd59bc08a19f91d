import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RemapEvents } from "../remap/remap-events.js";
import { ManualClock } from "./clock.js";
import { Forecast, type ForecastSource } from "./forecast.js";
import { DEFAULT_FORECAST_SETTINGS } from "./health-config.js";

const DAY = 86_400_000;

/** A target whose spare pool and events the test drives. */
function fakeSource(totalBlocks: number) {
  const listeners = new Set<RemapEvents>();
  const state = { free: totalBlocks, pending: 0, read: 0, write: 0 };
  const source: ForecastSource = {
    status: () => ({
      pendingBlocks: state.pending,
      spare: { totalBlocks, freeBlocks: state.free, alertPercent: 10 },
      errorCounts: { read: state.read, write: state.write },
    }),
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
  const remap = (block: number) => {
    state.free--;
    for (const l of listeners) l.onRemap?.({ block, slot: 0, reason: "read-error", lostSectors: 0 });
  };
  return { source, state, remap };
}

async function withDir(run: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "dmremap-forecast-"));
  try {
    await run(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test("months in seconds: healthy -> watch -> degrading -> replace, each with the rule that fired", async () => {
  await withDir(async (dir) => {
    const clock = new ManualClock(1_700_000_000_000);
    const { source, remap } = fakeSource(400);
    const forecast = new Forecast({
      target: "t",
      source,
      settings: DEFAULT_FORECAST_SETTINGS,
      historyPath: join(dir, "t.events.jsonl"),
      clock,
    });
    await forecast.start();
    assert.equal(forecast.forecastStatus().tier, "healthy");
    assert.match(forecast.forecastStatus().reason, /^healthy: no remap/);

    clock.advance(40 * DAY);
    remap(1);
    clock.advance(3 * DAY);
    let s = await forecast.evaluate();
    assert.equal(s.tier, "watch");
    assert.equal(s.reason, "watch: 1 bad-block events in the last 30 d (first 3.0 d ago)");

    // A quiet month at 1 remap a day, then a week at 8 a day: a significant acceleration.
    let block = 10;
    for (let d = 0; d < 23; d++) {
      clock.advance(DAY);
      remap(block++);
    }
    for (let d = 0; d < 7; d++) {
      for (let i = 0; i < 8; i++) remap(block++);
      clock.advance(DAY);
    }
    s = await forecast.evaluate();
    assert.equal(s.tier, "degrading");
    assert.match(s.reason, /^degrading: remap rate last 7 d is \d+\.\dx the 30 d rate, p = [\d.e-]+ < 0.05$/);
    assert.ok(s.spareExhaustionEtaSeconds!.p10! < s.spareExhaustionEtaSeconds!.p50!);

    // Keep going: the pool runs low and the median ETA drops below 14 days.
    for (let d = 0; d < 14; d++) {
      for (let i = 0; i < 12; i++) remap(block++);
      clock.advance(DAY);
    }
    s = await forecast.evaluate();
    assert.equal(s.tier, "replace");
    assert.ok(
      s.rules.some((r) => r.rule === "eta" && r.tier === "replace"),
      JSON.stringify(s.rules),
    );
    assert.ok(s.daysUntilAlert !== null);
    await forecast.stop();

    // The history survives a restart (and is plain JSON lines).
    const lines = (await readFile(join(dir, "t.events.jsonl"), "utf8")).trim().split("\n");
    assert.equal(JSON.parse(lines[0]!)["dmremap-health-events"], 1);
    assert.equal(lines.length - 1, forecast.events().length);
    const again = new Forecast({
      target: "t",
      source,
      settings: DEFAULT_FORECAST_SETTINGS,
      historyPath: join(dir, "t.events.jsonl"),
      clock,
    });
    await again.start();
    assert.equal(again.forecastStatus().tier, "replace");
    assert.equal(again.events().length, forecast.events().length);
    await again.stop();
  });
});

test("the history is bounded: compaction keeps the newest half and counts what it dropped", async () => {
  await withDir(async (dir) => {
    const clock = new ManualClock(0);
    const { source, remap } = fakeSource(100_000);
    const path = join(dir, "t.events.jsonl");
    const settings = { ...DEFAULT_FORECAST_SETTINGS, historyLimit: 100 };
    const forecast = new Forecast({ target: "t", source, settings, historyPath: path, clock });
    await forecast.start();
    for (let i = 0; i < 250; i++) {
      clock.advance(1000);
      remap(i);
    }
    await forecast.stop();
    assert.ok(forecast.events().length <= 100);
    const again = new Forecast({ target: "t", source, settings, historyPath: path, clock });
    await again.start();
    assert.deepEqual(
      again.events().map((e) => e.block),
      forecast.events().map((e) => e.block),
    );
    const header = JSON.parse((await readFile(path, "utf8")).split("\n")[0]!) as {
      dropped: { remap: number };
    };
    assert.equal(header.dropped.remap + again.events().length, 250);
    await again.stop();
  });
});

test("SMART: a baseline per device, deltas judged, critical NVMe state is `replace`", async () => {
  await withDir(async (dir) => {
    const fixtures = new URL("../../../src/health/fixtures/", import.meta.url);
    let name = "nvme-healthy";
    const clock = new ManualClock(0);
    const { source } = fakeSource(1000);
    const forecast = new Forecast({
      target: "t",
      source,
      settings: DEFAULT_FORECAST_SETTINGS,
      historyPath: join(dir, "t.events.jsonl"),
      clock,
      smartDevice: "/dev/nvme0",
      smartRunner: async () => ({
        stdout: readFileSync(new URL(`smartctl-${name}.json`, fixtures), "utf8"),
        code: 0,
      }),
    });
    await forecast.start();
    assert.equal(forecast.forecastStatus().tier, "healthy");
    assert.equal(forecast.forecastStatus().smart?.lastSample?.nvme?.availableSpare, 100);
    name = "nvme-failing";
    clock.advance(DEFAULT_FORECAST_SETTINGS.smartEveryMs);
    const s = await forecast.evaluate();
    assert.equal(s.tier, "replace");
    assert.ok(s.rules.some((r) => r.text === "replace: NVMe available_spare 3 % < threshold 10 %"));
    name = "open-failed";
    clock.advance(DEFAULT_FORECAST_SETTINGS.smartEveryMs);
    const failed = await forecast.evaluate();
    assert.match(failed.smart!.error!, /exit status 2/);
    await forecast.stop();
  });
});
