import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeRig, type Rig } from "../remap/testing/rig.js";
import { ManualClock, systemClock, type Clock } from "./clock.js";
import { DEFAULT_SCAN_SETTINGS, type ScanSettings } from "./health-config.js";
import type { HealthFinding } from "./health-logger.js";
import { Scanner } from "./scanner.js";
import { remapScanSource, type ScanSource } from "./scan-source.js";
import type { ScanRecord } from "./scan-state.js";
import { ScanStateError } from "./errors.js";

const BS = 4096;
const BLOCKS = 2048; // 8 MiB
const SETTINGS: ScanSettings = {
  ...DEFAULT_SCAN_SETTINGS,
  mode: "manual",
  readBytes: 64 << 10,
  neighbourhoodBytes: 256 << 10,
};

async function withDir(run: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "dmremap-scan-"));
  try {
    await run(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A rig whose main holds a known pattern, with `bad` blocks unreadable on main. */
async function rigWithBadBlocks(bad: readonly number[]): Promise<Rig> {
  const rig = makeRig({
    blocks: BLOCKS,
    spareSlots: [64],
    policy: { readRetries: 1, readRetryBudgetMs: 1000 },
  });
  const data = new Uint8Array(BLOCKS * BS);
  for (let i = 0; i < data.length; i += BS) data.fill((i / BS) & 0xff, i, i + BS);
  await rig.dev.write(0, data);
  for (const b of bad) rig.main.breakBlock(b, BS, { reads: true });
  return rig;
}

function scannerOf(
  source: ScanSource,
  dir: string,
  extra: { settings?: Partial<ScanSettings>; clock?: Clock; findings?: HealthFinding[] } = {},
): Scanner {
  return new Scanner({
    target: "t",
    uuid: "u-1",
    source,
    settings: { ...SETTINGS, ...extra.settings },
    statePath: join(dir, "t.scan.json"),
    clock: extra.clock ?? systemClock,
    // Latency judged on a fake clock: a loaded test machine must not make reads "suspect".
    latencyNow: () => 0,
    ...(extra.findings ? { onFinding: (f: HealthFinding) => extra.findings!.push(f) } : {}),
  });
}

test("a pass finds blocks nobody read: they become pending, data elsewhere unchanged", async () => {
  await withDir(async (dir) => {
    const rig = await rigWithBadBlocks([100, 1500]);
    const findings: HealthFinding[] = [];
    const scanner = scannerOf(remapScanSource(rig.dev), dir, { findings });
    await scanner.start();
    const done = scanner.passDone();
    await scanner.startPass();
    const pass = await done;
    assert.equal(pass.result, "complete");
    assert.equal(pass.errorsFound, 2);
    assert.deepEqual(rig.dev.list().pending, [100, 1500]);
    const status = scanner.scanStatus();
    assert.equal(status.state, "idle");
    assert.equal(status.errorsFound, 2);
    assert.equal(status.scannedBlocks, BLOCKS);
    assert.deepEqual(
      findings.filter((f) => f.source === "scan").map((f) => [f.block, f.kind]),
      [
        [100, "pending"],
        [1500, "pending"],
      ],
    );
    const block = new Uint8Array(BS);
    await rig.dev.read(1499 * BS, block);
    assert.ok(
      block.every((b) => b === (1499 & 0xff)),
      "healthy data is untouched",
    );
    await scanner.stop();
    const record = JSON.parse(await readFile(join(dir, "t.scan.json"), "utf8")) as ScanRecord;
    assert.equal(record.history.length, 1);
    assert.equal(record.state, "idle");
  });
});

test("remapped and pending blocks are skipped: main reads exactly the other blocks", async () => {
  await withDir(async (dir) => {
    const rig = await rigWithBadBlocks([]);
    await rig.dev.remapBlock(7);
    await rig.dev.markPending(900);
    const before = rig.main.status().bytesRead;
    const scanner = scannerOf(remapScanSource(rig.dev), dir);
    await scanner.start();
    const done = scanner.passDone();
    await scanner.startPass();
    await done;
    assert.equal(rig.main.status().bytesRead - before, (BLOCKS - 2) * BS);
    await scanner.stop();
  });
});

test("an error from client I/O makes the scanner read its neighbourhood before the sweep continues", async () => {
  await withDir(async (dir) => {
    const rig = await rigWithBadBlocks([1000, 1030]);
    const findings: HealthFinding[] = [];
    const inner = remapScanSource(rig.dev);
    const readBlocks: number[] = [];
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    const source: ScanSource = {
      ...inner,
      read: async (offsetBytes, target) => {
        readBlocks.push(offsetBytes / BS);
        await held;
        return inner.read(offsetBytes, target);
      },
    };
    const scanner = scannerOf(source, dir, { findings, settings: { queueDepth: 1 } });
    await scanner.start();
    await scanner.startPass();
    await scanner.pause();
    release();
    await scanner.quiet();
    await assert.rejects(rig.dev.read(1000 * BS, new Uint8Array(BS)));
    const before = readBlocks.length;
    const done = scanner.passDone();
    await scanner.resume();
    await done;
    const next = readBlocks.slice(before, before + 8);
    assert.ok(
      next.every((b) => b >= 1000 - 64 && b <= 1000 + 64),
      `after resume the neighbourhood of block 1000 comes first: ${next.join(",")}`,
    );
    assert.deepEqual(rig.dev.list().pending, [1000, 1030], "the neighbour nobody read was found");
    assert.deepEqual(
      findings.map((f) => [f.block, f.source]),
      [
        [1000, "io"],
        [1030, "scan"],
      ],
    );
    await scanner.stop();
  });
});

/** A source whose reads stop (forever) after `allowed` reads: what SIGKILL mid-pass leaves behind. */
function gatedSource(inner: ScanSource, allowed: number): ScanSource & { reads: number } {
  const gated = {
    ...inner,
    reads: 0,
    read(offsetBytes: number, target: Uint8Array) {
      gated.reads++;
      if (gated.reads > allowed) return new Promise<void>(() => {});
      return inner.read(offsetBytes, target);
    },
  };
  return gated;
}

test("after a crash mid-pass the scan resumes at the persisted cursor: at most one interval is read again", async () => {
  await withDir(async (dir) => {
    const rig = await rigWithBadBlocks([]);
    const clock = new ManualClock(1_000_000);
    const settings = { persistEveryBytes: 1 << 20, queueDepth: 1 };
    const crashed = gatedSource(remapScanSource(rig.dev), 40);
    const first = scannerOf(crashed, dir, { settings, clock });
    await first.start();
    await first.startPass();
    // Wait until the gate holds the scanner (the 41st read never returns), then "kill" it.
    while (crashed.reads <= 40) await new Promise((resolve) => setImmediate(resolve));
    const record = JSON.parse(await readFile(join(dir, "t.scan.json"), "utf8")) as ScanRecord;
    assert.equal(record.state, "scanning");
    const readsPerInterval = (1 << 20) / (64 << 10);
    assert.ok(record.passScannedBlocks >= (40 - readsPerInterval) * 16, `${record.passScannedBlocks}`);

    const resumed = gatedSource(remapScanSource(rig.dev), Infinity);
    const second = scannerOf(resumed, dir, { settings, clock });
    const done = second.passDone();
    await second.start();
    assert.equal(second.scanStatus().pass, 1, "same pass");
    const pass = await done;
    assert.equal(pass.result, "complete");
    const totalReads = BLOCKS / 16;
    assert.ok(
      resumed.reads <= totalReads - 40 + readsPerInterval,
      `re-read ${resumed.reads - (totalReads - 40)}`,
    );
    assert.ok(resumed.reads >= totalReads - 40, "nothing skipped");
    await second.stop();
  });
});

test("control verbs check the state and name it; pause survives a restart", async () => {
  await withDir(async (dir) => {
    const rig = await rigWithBadBlocks([]);
    const clock = new ManualClock(0);
    const source = gatedSource(remapScanSource(rig.dev), 4);
    const scanner = scannerOf(source, dir, { clock });
    await scanner.start();
    await assert.rejects(scanner.pause(), (err: unknown) => {
      assert.ok(err instanceof ScanStateError);
      assert.equal(err.code, "ESCANSTATE");
      assert.match(err.message, /cannot pause the scan while it is idle/);
      return true;
    });
    await assert.rejects(scanner.resume(), ScanStateError);
    await scanner.startPass();
    await assert.rejects(scanner.startPass(), /cannot start the scan while it is scanning/);
    await scanner.pause();
    assert.equal(scanner.scanStatus().state, "paused");
    const again = scannerOf(remapScanSource(rig.dev), dir, { clock });
    await again.start();
    assert.equal(again.scanStatus().state, "paused", "paused state is persisted");
    const done = again.passDone();
    await again.resume();
    assert.equal((await done).result, "complete");
    await assert.rejects(again.stopPass(), ScanStateError);
    await again.stop();
  });
});

test("a periodic schedule starts a pass when the interval has passed", async () => {
  await withDir(async (dir) => {
    const rig = await rigWithBadBlocks([5]);
    const clock = new ManualClock(0);
    const scanner = scannerOf(remapScanSource(rig.dev), dir, {
      clock,
      settings: { mode: "periodic", intervalMs: 3_600_000 },
    });
    await scanner.start();
    await scanner.quiet();
    assert.equal(scanner.scanStatus().nextPassAt, 3_600_000);
    const done = scanner.passDone();
    clock.advance(3_600_000);
    const pass = await done;
    assert.equal(pass.errorsFound, 1);
    assert.equal(scanner.scanStatus().nextPassAt, 3_600_000 + 3_600_000);
    await scanner.stop();
  });
});

test("a read far slower than the device's own distribution is suspect, re-read later, weak after three", async () => {
  await withDir(async (dir) => {
    const rig = await rigWithBadBlocks([]);
    const clock = new ManualClock(0);
    let fakeMs = 0;
    const inner = remapScanSource(rig.dev);
    const slowAt = 1024 * BS;
    const source: ScanSource = {
      ...inner,
      async read(offsetBytes, target) {
        await inner.read(offsetBytes, target);
        fakeMs += offsetBytes === slowAt ? 500 : 1;
      },
    };
    const scanner = new Scanner({
      target: "t",
      uuid: "u-1",
      source,
      settings: { ...SETTINGS, queueDepth: 1, suspectRecheckMs: 1000, regionBytes: 0 },
      statePath: join(dir, "t.scan.json"),
      clock,
      latencyNow: () => fakeMs,
    });
    await scanner.start();
    let done = scanner.passDone();
    await scanner.startPass();
    await done;
    const suspects = scanner.scanStatus().suspects;
    assert.deepEqual(
      suspects.map((s) => [s.firstBlock, s.slowReads]),
      [[1024, 1]],
    );
    assert.equal(scanner.scanStatus().suspectBlocks, 16);
    for (const expected of [2, 3]) {
      clock.advance(10_000);
      done = scanner.passDone();
      await scanner.startPass();
      await done;
      assert.equal(scanner.scanStatus().suspects[0]!.slowReads, expected);
    }
    assert.equal(scanner.scanStatus().weakBlocks, 16, "slow three times: weak");
    await scanner.stop();
  });
});

test("stop abandons the running pass: no new reads, kept in history as stopped, next start is a new pass", async () => {
  await withDir(async (dir) => {
    const rig = await rigWithBadBlocks([]);
    const inner = remapScanSource(rig.dev);
    let reads = 0;
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    const source: ScanSource = {
      ...inner,
      read: async (offsetBytes, target) => {
        reads++;
        if (reads > 4) await gate;
        return inner.read(offsetBytes, target);
      },
    };
    const scanner = scannerOf(source, dir, { clock: new ManualClock(0) });
    await scanner.start();
    await scanner.startPass();
    while (reads <= 4) await new Promise((resolve) => setImmediate(resolve));
    const stopping = scanner.stopPass();
    const readsAtStop = reads;
    release();
    const status = await stopping;
    assert.equal(reads, readsAtStop, "no read started after stop");
    assert.equal(status.state, "idle");
    assert.equal(status.lastPass?.result, "stopped");
    assert.equal((await scanner.startPass()).pass, 2);
    await scanner.stop();
  });
});
