// Tests of the live feed (SSE payloads, change-only pushes, ticker lifetime, acknowledgements) and the sampler.
import { test } from "node:test";
import assert from "node:assert/strict";
import { OP_READ, OP_WRITE, REQUEST_OPS, RequestTimes } from "../core/request-times.js";
import { AlertAcks } from "./alert-acks.js";
import { LiveFeed, type EventSink, type FeedTimer } from "./live-feed.js";
import { LiveSampler } from "./live-sampler.js";
import type { DashboardStatus, DashboardTarget } from "./target-view.js";

function status(remapped: number, state = "healthy"): DashboardStatus {
  return {
    state,
    sizeBytes: 4096 * 1000,
    blockSize: 4096,
    remappedBlocks: remapped,
    pendingBlocks: 0,
    lostSectors: 0,
    spare: { totalBlocks: 100, usedBlocks: remapped, freeBlocks: 100 - remapped },
    errors: { read: 0, write: 0 },
    metadata: { generation: 1, copies: [{ device: "spare.img", slot: "A", state: "ok" }] },
  };
}

function fakeTarget(name: string, current: { remapped: number; state?: string }): DashboardTarget {
  return {
    name,
    status: () => status(current.remapped, current.state),
    faultsEnabled: false,
    sampler: new LiveSampler(() => 0.5),
  };
}

class RecordingSink implements EventSink {
  readonly chunks: string[] = [];
  ended = false;
  write(chunk: string): void {
    this.chunks.push(chunk);
  }
  end(): void {
    this.ended = true;
  }
  events(name: string): unknown[] {
    return this.chunks
      .filter((c) => c.startsWith(`event: ${name}\n`))
      .map((c) => JSON.parse(c.slice(c.indexOf("data: ") + 6)) as unknown);
  }
}

function manualTimer(): FeedTimer & { running: number } {
  const t = {
    running: 0,
    now: () => 1_000_000,
    every: () => {
      t.running++;
      return () => t.running--;
    },
  };
  return t;
}

test("a subscriber gets the state at once, then only what changed", () => {
  const disk = { remapped: 0 };
  const timer = manualTimer();
  const feed = new LiveFeed({
    targets: () => [fakeTarget("disk0", disk)],
    acks: new AlertAcks(),
    tickMs: 1000,
    timer,
  });
  const sink = new RecordingSink();
  const unsubscribe = feed.subscribe(sink);
  assert.match(sink.chunks[0]!, /^retry: \d+\n\n$/, "browsers are told how soon to reconnect");
  assert.equal(sink.events("overview").length, 1);
  assert.equal(timer.running, 1, "the ticker runs while someone listens");
  feed.tick();
  assert.equal(sink.events("overview").length, 1, "nothing changed: nothing sent");
  disk.remapped = 2;
  feed.tick();
  const rows = sink.events("overview") as { remappedBlocks: number }[][];
  assert.equal(rows.length, 2);
  assert.equal(rows[1]![0]!.remappedBlocks, 2);
  unsubscribe();
  assert.equal(feed.size, 0);
  assert.equal(timer.running, 0, "nobody listens: the ticker stops");
});

test("a target watcher gets the target's details; close() ends every stream", () => {
  const timer = manualTimer();
  const feed = new LiveFeed({
    targets: () => [fakeTarget("a", { remapped: 1 }), fakeTarget("b", { remapped: 0, state: "degraded" })],
    acks: new AlertAcks(),
    tickMs: 1000,
    timer,
  });
  const sink = new RecordingSink();
  feed.subscribe(sink, "b");
  const details = sink.events("target") as { row: { name: string; alert: boolean }; history?: unknown }[];
  assert.equal(details.length, 1);
  assert.equal(details[0]!.history, undefined, "the history travels as its own event");
  assert.deepEqual(sink.events("history"), [{ t: [], remaps: [], errors: [] }]);
  feed.tick();
  assert.equal(sink.events("history").length, 1, "an unchanged history is not sent again");
  assert.equal(details[0]!.row.name, "b");
  assert.equal(details[0]!.row.alert, true, "a degraded target needs a person");
  feed.close();
  assert.equal(sink.ended, true);
  assert.equal(timer.running, 0);
  const late = new RecordingSink();
  feed.subscribe(late);
  assert.equal(late.ended, true, "a closed feed ends new streams at once");
});

test("acknowledging an alert holds until the condition changes", () => {
  const disk = { remapped: 0, state: "degraded" };
  const acks = new AlertAcks();
  const feed = new LiveFeed({
    targets: () => [fakeTarget("d", disk)],
    acks,
    tickMs: 1000,
    timer: manualTimer(),
  });
  const sink = new RecordingSink();
  feed.subscribe(sink);
  acks.acknowledge("d", "degraded|", 5);
  feed.tick();
  let rows = sink.events("overview") as { acknowledged: boolean }[][];
  assert.equal(rows.at(-1)![0]!.acknowledged, true);
  disk.state = "read-only";
  feed.tick();
  rows = sink.events("overview") as { acknowledged: boolean }[][];
  assert.equal(rows.at(-1)![0]!.acknowledged, false, "a new condition is a new alert");
  feed.close();
});

test("the sampler keeps p50 / p99 per tick and a bounded number of ticks", () => {
  const s = new LiveSampler(() => 0, 3);
  for (let i = 1; i <= 100; i++) s.observe(i / 1000);
  s.tick(10_000, 5);
  s.tick(11_000, 6);
  const series = s.series();
  assert.deepEqual(series.t, [10, 11]);
  assert.deepEqual(series.latencyP50Ms, [51, null]);
  assert.deepEqual(series.latencyP99Ms, [100, null]);
  s.tick(12_000, 7);
  s.tick(13_000, 8);
  assert.deepEqual(s.series().scanBytesPerSecond, [6, 7, 8]);
});

test("the sampler takes a batch's reads and writes and leaves its other requests out", () => {
  const s = new LiveSampler(() => 0, 3);
  const times = new RequestTimes();
  times.add(OP_READ, 0.002);
  times.add(REQUEST_OPS.indexOf("flush"), 9);
  times.add(OP_WRITE, 0.004);
  s.observeTimes(times);
  s.tick(1000, 0);
  assert.deepEqual(s.series().latencyP50Ms, [4]);
  assert.deepEqual(s.series().latencyP99Ms, [4]);
});
