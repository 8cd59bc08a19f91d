// What the scanner does with what it finds: imported suspects first, a weak block migrated by the
// read path's policy, new errors next to known ones found by re-reading the known-error zones.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeRig, type Rig } from "../remap/testing/rig.js";
import type { RemapPolicy } from "../remap/remap-policy.js";
import { ManualClock } from "./clock.js";
import { DEFAULT_SCAN_SETTINGS, type ScanSettings } from "./health-config.js";
import type { HealthFinding } from "./health-logger.js";
import { Scanner, type ImportedSuspects } from "./scanner.js";
import { remapScanSource, type ScanSource } from "./scan-source.js";

const BS = 4096;
const BLOCKS = 2048;
const SETTINGS: ScanSettings = {
  ...DEFAULT_SCAN_SETTINGS,
  mode: "manual",
  readBytes: 64 << 10,
  regionBytes: 0,
  neighbourhoodBytes: 256 << 10,
  queueDepth: 1,
};

async function withDir(run: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "dmremap-scan-findings-"));
  try {
    await run(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function patternRig(policy: Partial<RemapPolicy> = {}): Promise<Rig> {
  const rig = makeRig({ blocks: BLOCKS, spareSlots: [64], policy: { readRetries: 1, ...policy } });
  const data = new Uint8Array(BLOCKS * BS);
  for (let i = 0; i < data.length; i += BS) data.fill((i / BS) & 0xff, i, i + BS);
  await rig.dev.write(0, data);
  return rig;
}

/** A source that records the first block of every read and calls `onRead` before it. */
function recording(inner: ScanSource, onRead: (block: number, reads: number) => void = () => {}) {
  const blocks: number[] = [];
  const source: ScanSource = {
    ...inner,
    read(offsetBytes, target) {
      blocks.push(offsetBytes / BS);
      onRead(offsetBytes / BS, blocks.length);
      return inner.read(offsetBytes, target);
    },
  };
  return { source, blocks };
}

function scanner(
  source: ScanSource,
  dir: string,
  extra: {
    settings?: Partial<ScanSettings>;
    findings?: HealthFinding[];
    importedSuspects?: ImportedSuspects;
  } = {},
): Scanner {
  return new Scanner({
    target: "t",
    uuid: "u-1",
    source,
    settings: { ...SETTINGS, ...extra.settings },
    statePath: join(dir, "t.scan.json"),
    clock: new ManualClock(0),
    latencyNow: () => 0,
    ...(extra.findings ? { onFinding: (f: HealthFinding) => extra.findings!.push(f) } : {}),
    ...(extra.importedSuspects ? { importedSuspects: extra.importedSuspects } : {}),
  });
}

async function onePass(s: Scanner): Promise<void> {
  const done = s.passDone();
  await s.startPass();
  await done;
}

test("imported suspects are read first in a pass, and dropped from the list once read", async () => {
  await withDir(async (dir) => {
    const rig = await patternRig();
    rig.main.breakBlock(1501, BS, { reads: true });
    const { source, blocks } = recording(remapScanSource(rig.dev));
    let list = [1502, 40, 1500, 1501];
    const dropped: number[][] = [];
    const findings: HealthFinding[] = [];
    const s = scanner(source, dir, {
      findings,
      importedSuspects: {
        read: () => Promise.resolve([...list]),
        done: (read) => {
          dropped.push([...read]);
          list = list.filter((b) => !read.includes(b));
          return Promise.resolve();
        },
      },
    });
    await s.start();
    await onePass(s);
    assert.deepEqual(blocks.slice(0, 2), [40, 1500], "block 40, then the run 1500-1502, before the sweep");
    assert.deepEqual(dropped, [[40, 1500, 1501, 1502]]);
    assert.deepEqual(list, [], "the list is empty after the pass");
    assert.deepEqual(rig.dev.list().pending, [1501], "the bad suspect became pending");
    assert.deepEqual(
      findings.filter((f) => f.kind === "pending").map((f) => [f.block, f.source]),
      [[1501, "scan"]],
    );
    assert.equal(s.scanStatus().scannedBlocks, BLOCKS);
    await s.stop();
  });
});

test("a weak block the scanner reads (fails, then recovers on retry) migrates per the read path's policy", async () => {
  await withDir(async (dir) => {
    // migrate_after_failed_reads = 2 (the default): the first recovered read keeps the block, the second moves it.
    const rig = await patternRig({ migrateAfterFailedReads: 2 });
    const weak = 700;
    const failNextReads = (n: number) => {
      for (let s = (weak * BS) / 512; s < ((weak + 1) * BS) / 512; s++) rig.main.transientReads.set(s, n);
    };
    const findings: HealthFinding[] = [];
    const s = scanner(remapScanSource(rig.dev), dir, { findings });
    await s.start();
    // The pass's large read fails, then the block's own read fails once more and its retry succeeds.
    failNextReads(2);
    await onePass(s);
    await rig.dev.idle();
    assert.deepEqual(rig.dev.list().entries, [], "one failed occasion: kept on main");
    assert.deepEqual(rig.dev.list().pending, []);
    failNextReads(2);
    await onePass(s);
    await rig.dev.idle();
    assert.deepEqual(
      rig.dev.list().entries.map((e) => e.block),
      [weak],
      "second failed occasion: migrated to a spare",
    );
    assert.deepEqual(rig.dev.list().pending, [], "its data was readable: nothing lost");
    const data = new Uint8Array(BS);
    await rig.dev.read(weak * BS, data);
    assert.ok(
      data.every((b) => b === (weak & 0xff)),
      "the migrated block holds its data",
    );
    assert.deepEqual(
      findings.map((f) => [f.block, f.kind, f.source]),
      [[weak, "remapped", "scan"]],
    );
    await s.stop();
  });
});

test("a new error next to a known one is found by re-reading the known-error zone, before the sweep gets there", async () => {
  await withDir(async (dir) => {
    const rig = await patternRig();
    rig.main.breakBlock(1000, BS, { reads: true });
    const findings: HealthFinding[] = [];
    let readsAtFinding = -1;
    const { source, blocks } = recording(remapScanSource(rig.dev), (_block, reads) => {
      // The neighbourhood of block 1000 (8 reads) is done: block 1010 goes bad now.
      if (reads === 10) rig.main.breakBlock(1010, BS, { reads: true });
    });
    const s = new Scanner({
      target: "t",
      uuid: "u-1",
      source,
      settings: { ...SETTINGS, revisitShare: 0.5, revisitMinBytes: 16 * BS },
      statePath: join(dir, "t.scan.json"),
      clock: new ManualClock(0),
      latencyNow: () => 0,
      onFinding: (f) => {
        findings.push(f);
        if (f.block === 1010) readsAtFinding = blocks.length;
      },
    });
    await s.start();
    // A client read hits block 1000 first: it becomes pending, a known error.
    await assert.rejects(rig.dev.read(1000 * BS, new Uint8Array(BS)));
    await onePass(s);
    assert.deepEqual(rig.dev.list().pending, [1000, 1010]);
    assert.ok(readsAtFinding > 0 && readsAtFinding < 20, `found after ${readsAtFinding} reads`);
    const sweptSoFar = blocks.slice(0, readsAtFinding).filter((b) => b < 936);
    assert.ok(Math.max(...sweptSoFar) < 500, "the sweep was still far from block 1000");
    assert.deepEqual(
      findings.map((f) => [f.block, f.source]),
      [
        [1000, "io"],
        [1010, "scan"],
      ],
    );
    assert.equal(s.scanStatus().hotZones.knownErrors, 2);
    await s.stop();
  });
});
