// The remapped device's synchronous fast path: a range of plain blocks is answered by main now, a
// range inside one remapped block by its slot, both counted as user I/O; a pending, locked or
// mirrored block, lost sectors, a write in flight over the range, a main that fails, or a read-only
// set sends the request down the promise path, which handles it as always.
import { test } from "node:test";
import assert from "node:assert/strict";
import { tryReadNow, tryWriteNow } from "../block/answer-now.js";
import { LayerDevice, readBytes } from "../block/base-device.js";
import type { BlockDevice, WriteOptions } from "../block/block-device.js";
import { MediumError } from "../block/errors.js";
import { MemoryDevice } from "../block/memory-device.js";
import { openRemappedDevice } from "./remapped-device.js";
import { createMemorySet } from "./testing/memory-store.js";
import { pattern } from "./testing/rig.js";

const BS = 4096;
const BLOCKS = 64;

/**
 * A main with a fast path that fails like a file's would (refuses a bad block, the promise path then
 * throws MediumError), whose next promise write can be held in flight.
 */
class FastMain extends LayerDevice {
  readonly name = "fast-main";
  readonly bad = new Set<number>();
  fastReads = 0;
  fastWrites = 0;
  private hold: Promise<void> | undefined;

  constructor(lower: BlockDevice) {
    super(lower);
  }

  /** Hold the next promise write until the returned function is called. */
  holdNextWrite(): () => void {
    let release!: () => void;
    this.hold = new Promise<void>((go) => (release = go));
    return release;
  }

  private touchesBad(offsetBytes: number, lengthBytes: number): boolean {
    for (let b = Math.floor(offsetBytes / BS); b * BS < offsetBytes + lengthBytes; b++)
      if (this.bad.has(b)) return true;
    return false;
  }

  protected override _readNow(offsetBytes: number, target: Uint8Array): boolean {
    if (this.touchesBad(offsetBytes, target.length)) return false;
    this.fastReads++;
    return tryReadNow(this.lower, offsetBytes, target);
  }

  protected override _writeNow(offsetBytes: number, data: Uint8Array): boolean {
    if (this.touchesBad(offsetBytes, data.length)) return false;
    this.fastWrites++;
    return tryWriteNow(this.lower, offsetBytes, data);
  }

  protected override async _read(offsetBytes: number, target: Uint8Array): Promise<void> {
    if (this.touchesBad(offsetBytes, target.length))
      throw new MediumError(this.name, "read", offsetBytes, target.length);
    await this.lower.read(offsetBytes, target);
  }

  protected override async _write(offsetBytes: number, data: Uint8Array, options: WriteOptions) {
    const hold = this.hold;
    this.hold = undefined;
    if (hold) await hold;
    if (this.touchesBad(offsetBytes, data.length))
      throw new MediumError(this.name, "write", offsetBytes, data.length);
    await this.lower.write(offsetBytes, data, options);
  }

  describe(): string {
    return "fast-main:" + this.lower.describe();
  }
}

function setUp() {
  const { opened } = createMemorySet({ blockSize: BS, mainSizeBytes: BLOCKS * BS, spareSlots: [8] });
  const main = new FastMain(new MemoryDevice({ sizeBytes: BLOCKS * BS }));
  const dev = openRemappedDevice({ main, spares: [new MemoryDevice({ sizeBytes: 9 * BS })], opened });
  return { main, dev };
}

test("plain blocks are answered by main now and counted as user I/O", async () => {
  const { main, dev } = setUp();
  const count = dev.userIoCount;
  assert.equal(tryWriteNow(dev, 3 * BS, pattern(2 * BS, 3)), true);
  const out = Buffer.alloc(2 * BS);
  assert.equal(tryReadNow(dev, 3 * BS, out), true);
  assert.ok(out.equals(pattern(2 * BS, 3)));
  assert.deepEqual([main.fastWrites, main.fastReads], [1, 1]);
  assert.equal(dev.userIoCount, count + 2, "the drain and the replacement see these requests");
  assert.ok((await readBytes(dev, 3 * BS, 2 * BS)).equals(pattern(2 * BS, 3)));
  await dev.close();
});

test("inside one remapped block, the slot answers now; a range beyond it or a pending block does not", async () => {
  const { main, dev } = setUp();
  await dev.write(10 * BS, pattern(BS, 10));
  assert.equal(await dev.remapBlock(10), "remapped");
  assert.equal(await dev.markPending(20), true);
  const mainBefore = await readBytes(main, 10 * BS, BS);
  const count = dev.userIoCount;
  assert.equal(tryWriteNow(dev, 10 * BS + 512, pattern(1024, 11)), true, "a write inside the block");
  const out = Buffer.alloc(BS);
  assert.equal(tryReadNow(dev, 10 * BS, out), true, "a read of the block");
  const expected = pattern(BS, 10);
  expected.set(pattern(1024, 11), 512);
  assert.ok(out.equals(expected), "the slot's bytes, with the fast write in them");
  assert.ok((await readBytes(main, 10 * BS, BS)).equals(mainBefore), "main was not touched");
  assert.equal(dev.userIoCount, count + 2);
  const before = main.fastReads;
  assert.equal(tryReadNow(dev, 8 * BS, Buffer.alloc(4 * BS)), false, "a range over a remapped block");
  assert.equal(tryWriteNow(dev, 9 * BS, pattern(2 * BS, 9)), false, "a range over a remapped block");
  assert.equal(tryReadNow(dev, 20 * BS, Buffer.alloc(BS)), false, "pending");
  assert.equal(tryWriteNow(dev, 20 * BS, pattern(BS, 20)), false, "pending");
  assert.equal(main.fastReads, before, "main was not asked");
  assert.ok((await readBytes(dev, 8 * BS, 4 * BS)).subarray(2 * BS, 3 * BS).equals(expected), "promise path");
  await dev.close();
});

test("a locked remapped block and a block with lost sectors take the promise path", async () => {
  const { main, dev } = setUp();
  await dev.write(10 * BS, pattern(BS, 10));
  assert.equal(await dev.remapBlock(10), "remapped");
  await dev.core.guard.withLock(10, async () => {
    assert.equal(tryReadNow(dev, 10 * BS, Buffer.alloc(BS)), false, "locked (a move in progress)");
    assert.equal(tryWriteNow(dev, 10 * BS, pattern(BS, 1)), false, "locked");
  });
  assert.equal(tryReadNow(dev, 10 * BS, Buffer.alloc(BS)), true, "unlocked again");
  // Block 12: main cannot read it when a write to it fails, so its old sectors are lost on the spare.
  main.bad.add(12);
  await dev.write(12 * BS, pattern(512, 12));
  assert.ok(dev.core.lost.has(12), "lost sectors recorded");
  assert.equal(tryReadNow(dev, 12 * BS, Buffer.alloc(512)), false, "lost sectors: the promise path decides");
  assert.equal(
    tryWriteNow(dev, 12 * BS, pattern(BS, 13)),
    false,
    "a rewrite clears them on the promise path",
  );
  await dev.write(12 * BS, pattern(BS, 13));
  assert.equal(dev.core.lost.has(12), false);
  assert.equal(tryReadNow(dev, 12 * BS, Buffer.alloc(BS)), true, "whole again: fast");
  await dev.close();
});

test("a mirrored block takes the promise path, which keeps both copies in step", async () => {
  const { opened } = createMemorySet({
    blockSize: BS,
    mainSizeBytes: BLOCKS * BS,
    spareSlots: [8, 8],
    mirrorCopies: 2,
  });
  const main = new FastMain(new MemoryDevice({ sizeBytes: BLOCKS * BS }));
  const spares = [0, 1].map(() => new MemoryDevice({ sizeBytes: 9 * BS }));
  const dev = openRemappedDevice({ main, spares, opened });
  assert.equal(await dev.remapBlock(4), "remapped");
  assert.ok(dev.core.mirrors.has(4));
  assert.equal(tryWriteNow(dev, 4 * BS, pattern(BS, 4)), false);
  assert.equal(tryReadNow(dev, 4 * BS, Buffer.alloc(BS)), false);
  await dev.write(4 * BS, pattern(BS, 4));
  const [slot, mirror] = [dev.core.table.get(4), dev.core.mirrors.get(4)];
  for (const s of [slot, mirror])
    assert.ok((await readBytes(dev.core.spareOf(s), dev.core.pool.offsetOf(s), BS)).equals(pattern(BS, 4)));
  await dev.close();
});

test("a write in flight over the range refuses the fast path until it has ended", async () => {
  const { main, dev } = setUp();
  const release = main.holdNextWrite();
  const inFlight = dev.write(5 * BS, pattern(BS, 5));
  assert.equal(tryReadNow(dev, 5 * BS, Buffer.alloc(BS)), false, "the read would overtake the write");
  assert.equal(tryWriteNow(dev, 4 * BS, pattern(2 * BS, 4)), false, "an overlapping write waits its turn");
  assert.equal(tryWriteNow(dev, 7 * BS, pattern(BS, 7)), true, "a range clear of the flight");
  release();
  await inFlight;
  const out = Buffer.alloc(BS);
  assert.equal(tryReadNow(dev, 5 * BS, out), true, "the flight has ended");
  assert.ok(out.equals(pattern(BS, 5)));
  await dev.close();
});

test("a bad block met on the fast path is remapped by the promise path, then served from the spare", async () => {
  const { main, dev } = setUp();
  main.bad.add(12);
  assert.equal(tryWriteNow(dev, 12 * BS, pattern(BS, 12)), false, "main refused");
  await dev.write(12 * BS, pattern(BS, 12));
  assert.equal(dev.isRemappedOrPending(12), true, "the promise path remapped it");
  const out = Buffer.alloc(BS);
  assert.equal(tryReadNow(dev, 12 * BS, out), true, "now answered by its slot");
  assert.ok(out.equals(pattern(BS, 12)));
  assert.ok((await readBytes(dev, 12 * BS, BS)).equals(pattern(BS, 12)));
  await dev.close();
});

test("a set gone read-only refuses fast writes and still answers fast reads", async () => {
  const { dev } = setUp();
  await dev.write(0, pattern(BS, 1));
  dev.enterReadOnly("test");
  assert.equal(tryWriteNow(dev, 0, pattern(BS, 2)), false);
  const out = Buffer.alloc(BS);
  assert.equal(tryReadNow(dev, 0, out), true);
  assert.ok(out.equals(pattern(BS, 1)));
  await dev.close();
});
