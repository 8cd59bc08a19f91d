// Crash consistency of mirrored sets: a crash injected at every spare flush and every metadata
// commit of a mirrored remap and of a rebuild; after recovery the data is exact and the table is
// the state before or after the operation, never half-applied (both copies hold the block's data).
import { test } from "node:test";
import assert from "node:assert/strict";
import { LayerDevice, readBytes } from "../block/base-device.js";
import type { BlockDevice } from "../block/block-device.js";
import { MemoryDevice } from "../block/memory-device.js";
import { MissingDevice } from "../block/missing-device.js";
import { openRemappedDevice, type RemappedDevice } from "./remapped-device.js";
import { FaultyDevice } from "./testing/faulty-device.js";
import { createMemorySet, reopenMemorySet, type MemoryDurable } from "./testing/memory-store.js";
import { KeepOpenDevice, pattern } from "./testing/rig.js";
import { VirtualClock } from "./testing/virtual-clock.js";
import { VolatileDevice } from "./testing/volatile-device.js";

const BS = 4096;
const BLOCKS = 16;

class Crash extends Error {}

/** Counts crash points (flushes of spares, metadata appends) and throws at number `at`. */
class CrashPoints {
  seen = 0;
  constructor(readonly at: number) {}
  hit(): void {
    if (++this.seen === this.at) throw new Crash(`crash at point ${this.at}`);
  }
}

/** A spare whose flushes are crash points. */
class FlushPoint extends LayerDevice {
  readonly name = "flush-point";
  constructor(
    lower: BlockDevice,
    private readonly points: { current?: CrashPoints },
  ) {
    super(lower);
  }
  protected override async _flush(): Promise<void> {
    this.points.current?.hit();
    return this.lower.flush();
  }
  protected override async _close(): Promise<void> {}
  describe(): string {
    return this.lower.describe();
  }
}

interface World {
  durable: MemoryDurable;
  mainMedia: MemoryDevice;
  spareMedia: MemoryDevice[];
  caches: VolatileDevice[];
  points: { current?: CrashPoints };
}

function world(): World {
  const { durable } = createMemorySet({
    blockSize: BS,
    mainSizeBytes: BLOCKS * BS,
    spareSlots: [4, 4, 4],
    mirrorCopies: 2,
  });
  return {
    durable,
    mainMedia: new MemoryDevice({ sizeBytes: BLOCKS * BS }),
    spareMedia: durable.identity.spares.map((s) => new MemoryDevice({ sizeBytes: s.sizeBytes })),
    caches: [],
    points: {},
  };
}

/** Open the set on fresh cache layers; `missing` spares are absent; main fails writes of `badBlocks`. */
function open(w: World, badBlocks: readonly number[], missing: readonly number[] = []): RemappedDevice {
  w.caches = w.spareMedia.map((m, i) => new VolatileDevice(new KeepOpenDevice(m), `spare${i}-cache`));
  const spares = w.caches.map((c, i) =>
    missing.includes(i)
      ? new MissingDevice({ sizeBytes: c.sizeBytes, name: `spare${i}-missing` })
      : new FlushPoint(c, w.points),
  );
  const main = new FaultyDevice(new KeepOpenDevice(w.mainMedia), "main");
  for (const b of badBlocks) main.breakBlock(b, BS, { writes: true });
  const opened = reopenMemorySet(w.durable);
  opened.store.onAppend = () => w.points.current?.hit();
  return openRemappedDevice({ main, spares, opened, clock: new VirtualClock() });
}

/** Lose every unflushed spare write (main is written through in these scenarios). */
function crash(w: World): void {
  for (const c of w.caches) c.crash();
}

/** Every copy of `block` on the media holds `expected` (only spares present in `w`). */
async function assertCopies(
  w: World,
  dev: RemappedDevice,
  block: number,
  expected: Uint8Array,
  missing: number[] = [],
) {
  const core = dev.core;
  const slots = [core.table.get(block), core.mirrors.get(block)].filter((s) => s >= 0);
  for (const s of slots) {
    const i = core.pool.spareIndexOf(s);
    if (missing.includes(i)) continue;
    assert.deepEqual(
      await readBytes(w.spareMedia[i]!, core.pool.offsetOf(s), BS),
      Buffer.from(expected),
      `copy in slot ${s}`,
    );
  }
}

test("a crash at every flush and commit of a mirrored remap leaves the old or the new data, both copies equal", async () => {
  const states = new Map<string, number>();
  for (let at = 1; ; at++) {
    const w = world();
    await w.mainMedia.write(5 * BS, pattern(BS, 1));
    const dev = open(w, [5]);
    w.points.current = new CrashPoints(at);
    let crashed = false;
    try {
      await dev.write(5 * BS, pattern(BS, 2));
      await dev.flush();
    } catch (err) {
      if (!(err instanceof Crash) && !(err instanceof Error && err.cause instanceof Crash)) throw err;
      crashed = true;
    }
    const seen = w.points.current.seen;
    w.points.current = undefined;
    crash(w);
    const after = open(w, []);
    const data = await readBytes(after, 5 * BS, BS);
    const remapped = after.core.table.get(5) >= 0;
    const copies = (remapped ? 1 : 0) + (after.core.mirrors.get(5) >= 0 ? 1 : 0);
    if (remapped) {
      assert.deepEqual(
        data,
        Buffer.from(pattern(BS, 2)),
        `crash point ${at}: a committed remap has the new data`,
      );
      assert.equal(copies, 2, `crash point ${at}: the remap commits with its second copy`);
      await assertCopies(w, after, 5, pattern(BS, 2));
    } else assert.deepEqual(data, Buffer.from(pattern(BS, 1)), `crash point ${at}: not committed: old data`);
    assert.equal(after.core.pool.usedSlots, copies, "no slot leaked");
    const state = `${crashed ? "crash" : "complete"}:${remapped ? "remapped" : "on-main"}:${copies}`;
    states.set(state, (states.get(state) ?? 0) + 1);
    await after.close();
    if (!crashed) {
      assert.ok(seen >= 3, "two copy flushes and a commit were crash points");
      break;
    }
  }
  console.log(`mirrored remap crash states: ${JSON.stringify(Object.fromEntries(states))}`);
  assert.equal(states.get("complete:remapped:2"), 1);
  assert.ok((states.get("crash:on-main:0") ?? 0) >= 3, "crashes before the commit leave the block on main");
});

test("a crash at every flush and commit of a rebuild leaves exact data and a whole table state", async () => {
  const states = new Map<string, number>();
  const blocks = [2, 9];
  for (let at = 1; ; at++) {
    const w = world();
    const setup = open(w, blocks);
    for (const b of blocks) await setup.write(b * BS, pattern(BS, 20 + b));
    for (const b of blocks)
      assert.ok(
        [setup.core.table.get(b), setup.core.mirrors.get(b)].some(
          (s) => setup.core.pool.spareIndexOf(s) === 0,
        ),
      );
    await setup.close();
    // Spare 0 is lost; rebuild onto spare 2 with a crash injected.
    const dev = open(w, [], [0]);
    w.points.current = new CrashPoints(at);
    let crashed = false;
    try {
      for (const b of dev.blocksNeedingCopies()) await dev.rebuildCopies(b);
    } catch (err) {
      if (!(err instanceof Crash) && !(err instanceof Error && err.cause instanceof Crash)) throw err;
      crashed = true;
    }
    w.points.current = undefined;
    crash(w);
    const after = open(w, [], [0]);
    let rebuilt = 0;
    for (const b of blocks) {
      assert.deepEqual(
        await readBytes(after, b * BS, BS),
        Buffer.from(pattern(BS, 20 + b)),
        `crash point ${at}: block ${b}`,
      );
      await assertCopies(w, after, b, pattern(BS, 20 + b), [0]);
      const onLost = [after.core.table.get(b), after.core.mirrors.get(b)].some(
        (s) => after.core.pool.spareIndexOf(s) === 0,
      );
      if (!onLost) rebuilt++;
    }
    const state = `${crashed ? "crash" : "complete"}:rebuilt=${rebuilt}`;
    states.set(state, (states.get(state) ?? 0) + 1);
    await after.close();
    if (!crashed) {
      assert.equal(rebuilt, blocks.length);
      break;
    }
  }
  console.log(`mirror rebuild crash states: ${JSON.stringify(Object.fromEntries(states))}`);
  assert.ok((states.get("crash:rebuilt=0") ?? 0) >= 2);
  assert.ok((states.get("crash:rebuilt=1") ?? 0) >= 2);
});
