// The block-device contract suite: node:test cases every device and layer must pass.
// Call runBlockDeviceContract() from a test file with a factory that makes a fresh device (>= 1 MiB).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { tryReadNow, tryWriteNow } from "./answer-now.js";
import type { BlockDevice } from "./block-device.js";
import { readBytes } from "./base-device.js";
import { DeviceClosedError, OutOfRangeError, ReadOnlyError, UnsupportedError } from "./errors.js";
import { Prng } from "./prng.js";

/** A device under test and how to dispose of what the factory made besides it. */
export interface ContractSubject {
  readonly device: BlockDevice;
  readonly cleanup?: () => Promise<void>;
}

/** Options of the contract suite. */
export interface ContractOptions {
  /** Makes a read-only device; the read-only cases run only when given. */
  readonly readOnlyFactory?: () => Promise<ContractSubject>;
  /** Seed of the data and request shapes (default 1). */
  readonly seed?: number;
}

const MIN_SIZE_BYTES = 1 << 20;

function randomBytes(prng: Prng, length: number): Buffer {
  return prng.fill(Buffer.alloc(length)) as Buffer;
}

async function withDevice(
  factory: () => Promise<ContractSubject>,
  body: (device: BlockDevice) => Promise<void>,
): Promise<void> {
  const subject = await factory();
  try {
    assert.ok(subject.device.sizeBytes >= MIN_SIZE_BYTES, "contract devices must be at least 1 MiB");
    await body(subject.device);
  } finally {
    await subject.device.close();
    await subject.cleanup?.();
  }
}

/** Write `data` at `offset` and check the whole first `windowBytes` against a model of the device. */
async function writeAndCheck(
  device: BlockDevice,
  writes: readonly { offset: number; data: Uint8Array }[],
  windowBytes: number,
): Promise<void> {
  const model = await readBytes(device, 0, windowBytes);
  for (const { offset, data } of writes) {
    await device.write(offset, data);
    model.set(data, offset);
  }
  assert.ok((await readBytes(device, 0, windowBytes)).equals(model), "device content differs from the model");
}

/** Define the contract tests for devices made by `factory`. */
export function runBlockDeviceContract(
  name: string,
  factory: () => Promise<ContractSubject>,
  options: ContractOptions = {},
): void {
  const prng = new Prng(options.seed ?? 1);
  const test = (title: string, body: (device: BlockDevice) => Promise<void>) =>
    it(title, () => withDevice(factory, body));

  describe(`${name}: block-device contract`, () => {
    test("reports a sane size and block size", async (d) => {
      assert.ok(Number.isSafeInteger(d.sizeBytes) && d.sizeBytes > 0);
      assert.equal(d.sizeBytes % d.logicalBlockSize, 0);
      assert.ok(d.describe().length > 0);
    });

    test("round-trips aligned writes without touching neighbours", async (d) => {
      await writeAndCheck(d, [{ offset: 8192, data: randomBytes(prng, 4096) }], 65536);
    });

    test("round-trips unaligned writes", async (d) => {
      const writes = [
        { offset: 513, data: randomBytes(prng, 1000) },
        { offset: 4095, data: randomBytes(prng, 2) },
        { offset: 10_001, data: randomBytes(prng, 7777) },
      ];
      await writeAndCheck(d, writes, 32768);
    });

    test("round-trips writes spanning 64 KiB chunk boundaries", async (d) => {
      await writeAndCheck(d, [{ offset: 65536 - 100, data: randomBytes(prng, 2 * 65536 + 300) }], 4 * 65536);
    });

    test("round-trips 1-byte writes", async (d) => {
      await writeAndCheck(
        d,
        [
          { offset: 1, data: Uint8Array.of(0xa5) },
          { offset: 2, data: Uint8Array.of(0x5a) },
          { offset: 511, data: Uint8Array.of(0x01) },
        ],
        1024,
      );
      assert.deepEqual([...(await readBytes(d, 1, 2))], [0xa5, 0x5a]);
    });

    test("round-trips the whole device", async (d) => {
      const data = randomBytes(prng, d.sizeBytes);
      await d.write(0, data);
      assert.ok((await readBytes(d, 0, d.sizeBytes)).equals(data));
    });

    test("accepts zero-length requests anywhere in range, changing nothing", async (d) => {
      const data = randomBytes(prng, 4096);
      await d.write(0, data);
      await d.read(d.sizeBytes, new Uint8Array(0));
      await d.write(100, new Uint8Array(0));
      await d.writeZeroes(100, 0);
      if (d.capabilities.trim) await d.trim(100, 0);
      assert.ok((await readBytes(d, 0, 4096)).equals(data));
    });

    test("rejects requests outside the device with OutOfRangeError", async (d) => {
      const size = d.sizeBytes;
      await assert.rejects(d.read(size - 1, new Uint8Array(2)), OutOfRangeError);
      await assert.rejects(d.read(size, new Uint8Array(1)), OutOfRangeError);
      await assert.rejects(d.read(-512, new Uint8Array(512)), OutOfRangeError);
      await assert.rejects(d.read(1.5, new Uint8Array(1)), OutOfRangeError);
      await assert.rejects(d.write(size - 512, new Uint8Array(1024)), OutOfRangeError);
      await assert.rejects(d.write(-1, new Uint8Array(1)), OutOfRangeError);
      await assert.rejects(d.writeZeroes(size - 512, 513), OutOfRangeError);
      await assert.rejects(d.writeZeroes(0, 0.5), OutOfRangeError);
      await assert.rejects(d.trim(0, size + 512), OutOfRangeError);
    });

    test("flush and FUA writes succeed and keep the data", async (d) => {
      const a = randomBytes(prng, 4096);
      const b = randomBytes(prng, 1000);
      await d.write(0, a);
      await d.flush();
      await d.write(8192 + 3, b, { fua: true });
      await d.write(0, new Uint8Array(0), { fua: true });
      assert.ok((await readBytes(d, 0, 4096)).equals(a));
      assert.ok((await readBytes(d, 8192 + 3, 1000)).equals(b));
    });

    test("trim leaves zeroes or the old data, never anything else", async (d) => {
      const old = randomBytes(prng, 3 * 65536);
      await d.write(0, old);
      if (!d.capabilities.trim) {
        await assert.rejects(d.trim(0, 4096), UnsupportedError);
        return;
      }
      await d.trim(1000, 2 * 65536);
      const after = await readBytes(d, 0, old.length);
      for (let i = 0; i < old.length; i++) {
        const inside = i >= 1000 && i < 1000 + 2 * 65536;
        if (after[i] !== old[i] && !(inside && after[i] === 0)) {
          assert.fail(`byte ${i} is ${after[i]} after trim (old ${old[i]}, inside trimmed range: ${inside})`);
        }
      }
    });

    test("writeZeroes reads back zeroes and leaves neighbours alone", async (d) => {
      const old = randomBytes(prng, 3 * 65536);
      await d.write(0, old);
      await d.writeZeroes(777, 65536 + 5000);
      await d.writeZeroes(140_000, 4096, { mayTrim: true, fua: true });
      const model = Buffer.from(old);
      model.fill(0, 777, 777 + 65536 + 5000);
      model.fill(0, 140_000, 140_000 + 4096);
      assert.ok((await readBytes(d, 0, old.length)).equals(model));
    });

    test("many concurrent non-overlapping writes then reads", async (d) => {
      const slots = 64;
      const slotBytes = Math.floor(d.sizeBytes / slots);
      const writes = Array.from({ length: slots }, (_, i) => {
        const length = 1 + prng.nextInt(slotBytes);
        const offset = i * slotBytes + prng.nextInt(slotBytes - length + 1);
        return { offset, data: randomBytes(prng, length) };
      });
      await Promise.all(writes.map((w) => d.write(w.offset, w.data)));
      const back = await Promise.all(writes.map((w) => readBytes(d, w.offset, w.data.length)));
      back.forEach((buf, i) => assert.ok(buf.equals(writes[i]!.data), `slot ${i} differs`));
    });

    test("status() counters move with requests", async (d) => {
      const before = d.status();
      await d.write(0, new Uint8Array(4096));
      await d.read(0, new Uint8Array(1024));
      await d.flush();
      const after = d.status();
      assert.equal(after.writes, before.writes + 1);
      assert.equal(after.reads, before.reads + 1);
      assert.equal(after.bytesWritten, before.bytesWritten + 4096);
      assert.equal(after.bytesRead, before.bytesRead + 1024);
      assert.equal(after.flushes, before.flushes + 1);
      assert.equal(after.sizeBytes, d.sizeBytes);
      assert.equal(after.closed, false);
    });

    test("the synchronous fast path answers as read() and write() do, or refuses having done nothing", async (d) => {
      const at = [0, 4096, 65536 - 512, d.sizeBytes - 8192];
      for (const offset of at) {
        const data = randomBytes(prng, 8192);
        const before = d.status();
        if (tryWriteNow(d, offset, data)) {
          assert.equal(d.status().writes, before.writes + 1, "a fast write counts once");
          assert.equal(d.status().bytesWritten, before.bytesWritten + data.length);
        } else {
          assert.deepEqual(d.status(), before, "a refused fast write changes no counter");
          await d.write(offset, data);
        }
        const viaRead = await readBytes(d, offset, data.length);
        assert.ok(viaRead.equals(data), "read() sees the write");
        const target = Buffer.alloc(data.length);
        const beforeRead = d.status();
        if (tryReadNow(d, offset, target)) {
          assert.ok(target.equals(data), "a fast read returns what read() returns");
          assert.equal(d.status().reads, beforeRead.reads + 1, "a fast read counts once");
        } else {
          assert.deepEqual(d.status(), beforeRead, "a refused fast read changes no counter");
        }
      }
      assert.equal(tryReadNow(d, d.sizeBytes - 512, new Uint8Array(1024)), false, "out of range");
      assert.equal(tryWriteNow(d, -512, new Uint8Array(512)), false, "negative offset");
      assert.equal(tryReadNow(d, 0, new Uint8Array(0)), false, "zero length takes the promise path");
      await d.close();
      assert.equal(tryReadNow(d, 0, new Uint8Array(512)), false, "closed");
      assert.equal(tryWriteNow(d, 0, new Uint8Array(512)), false, "closed");
    });

    test("after close every request fails with DeviceClosedError; close is idempotent", async (d) => {
      await d.close();
      await d.close();
      assert.equal(d.status().closed, true);
      await assert.rejects(d.read(0, new Uint8Array(1)), DeviceClosedError);
      await assert.rejects(d.write(0, new Uint8Array(1)), DeviceClosedError);
      await assert.rejects(d.flush(), DeviceClosedError);
      await assert.rejects(d.trim(0, 512), DeviceClosedError);
      await assert.rejects(d.writeZeroes(0, 512), DeviceClosedError);
    });

    const readOnlyFactory = options.readOnlyFactory;
    if (readOnlyFactory) {
      it("read-only: reads and flushes work, write-type requests fail with ReadOnlyError", () =>
        withDevice(readOnlyFactory, async (d) => {
          assert.equal(d.capabilities.readOnly, true);
          await d.read(0, new Uint8Array(4096));
          await d.flush();
          assert.equal(tryWriteNow(d, 0, new Uint8Array(512)), false, "no fast write when read-only");
          await assert.rejects(d.write(0, new Uint8Array(1)), ReadOnlyError);
          await assert.rejects(d.writeZeroes(0, 512), ReadOnlyError);
          await assert.rejects(d.trim(0, 512), ReadOnlyError);
        }));
    }
  });
}
