// IoWorker.copy (OP_COPY, io-worker-thread.ts): a range copied between two fds inside the worker, a
// slot's size at a time; exact bytes at any offset (beyond 4 GiB too), a queue deeper than the slots,
// the side of a failure, and a worker that keeps serving after one.
import assert from "node:assert/strict";
import {
  closeSync,
  constants,
  ftruncateSync,
  openSync,
  readFileSync,
  readSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { isCopyReadFailure } from "./copy-offload.js";
import { CopyFailure, IoWorker } from "./io-worker.js";
import { Prng } from "./prng.js";
import { sameBytes, seeded } from "../testing/bytes.js";

const KiB = 1024;
const MiB = 1 << 20;
const GiB = 1 << 30;
const SHM = "/dev/shm";

/** `length` bytes of `fd` at `position` (throws on a short read). */
function pread(fd: number, position: number, length: number): Buffer {
  const buf = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buf, done, length - done, position + done);
    if (n === 0) throw new Error(`short read at ${position + done}`);
    done += n;
  }
  return buf;
}

/** Asserts `err` is a CopyFailure of `side` whose cause carries `code`. */
function copyFailure(side: "read" | "write", code: string): (err: unknown) => boolean {
  return (err: unknown) => {
    assert.ok(err instanceof CopyFailure, `not a CopyFailure: ${String(err)}`);
    assert.equal(err.side, side);
    assert.equal((err.cause as NodeJS.ErrnoException).code, code);
    assert.match(err.message, new RegExp(`^copy failed at its ${side}: ${code}`));
    assert.equal(isCopyReadFailure(err), side === "read");
    return true;
  };
}

describe("IoWorker.copy", () => {
  let shm = "";
  let disk = "";
  before(async () => {
    shm = await mkdtemp(join(SHM, "dmremap-iocopy-"));
    disk = await mkdtemp(join(tmpdir(), "dmremap-iocopy-"));
  });
  after(async () => {
    await rm(shm, { recursive: true, force: true });
    await rm(disk, { recursive: true, force: true });
  });

  it("copies exact bytes between two files at different offsets, longer than many slots and not a multiple of one", async () => {
    const worker = new IoWorker({ slots: 4, slotBytes: 64 * KiB });
    const source = seeded(1, MiB);
    const fill = Buffer.alloc(MiB, 0xee);
    writeFileSync(join(shm, "a.src"), source);
    writeFileSync(join(shm, "a.dst"), fill);
    const from = openSync(join(shm, "a.src"), "r");
    const to = openSync(join(shm, "a.dst"), "r+");
    try {
      const expected = Buffer.from(fill);
      // [source offset, destination offset, length]: several slots plus a tail, one byte, exactly a
      // slot, a slot and one byte, nothing at all.
      const cases: [number, number, number][] = [
        [12_345, 700_001, 300_001],
        [0, 3, 1],
        [65_536, 1_000, 64 * KiB],
        [900_000, 400_000, 64 * KiB + 1],
        [5, 999_999, 0],
      ];
      for (const [fromAt, toAt, length] of cases) {
        await worker.copy(from, fromAt, to, toAt, length);
        source.copy(expected, toAt, fromAt, fromAt + length);
        sameBytes(readFileSync(join(shm, "a.dst")), expected, `copy of ${length} bytes`);
      }
      // The source is only read.
      sameBytes(readFileSync(join(shm, "a.src")), source);
      assert.equal(worker.pending, 0);
    } finally {
      await worker.close();
      closeSync(from);
      closeSync(to);
    }
  });

  it("copies at positions beyond 4 GiB of sparse files, not at the positions modulo 2^32", async () => {
    const worker = new IoWorker({ slots: 2, slotBytes: 64 * KiB });
    const path = join(disk, "sparse.img");
    const other = join(disk, "sparse-other.img");
    const fd = openSync(path, "w+");
    const otherFd = openSync(other, "w+");
    try {
      ftruncateSync(fd, 7 * GiB);
      ftruncateSync(otherFd, 7 * GiB);
      const length = 200_001;
      const high = seeded(2, length);
      const low = seeded(3, length);
      // The same offset modulo 4 GiB holds other bytes: a position cut to 32 bits would copy those.
      writeSync(fd, high, 0, length, 5 * GiB + 123);
      writeSync(fd, low, 0, length, GiB + 123);
      await worker.copy(fd, 5 * GiB + 123, fd, 6 * GiB + 4097, length);
      sameBytes(pread(fd, 6 * GiB + 4097, length), high);
      sameBytes(pread(fd, 2 * GiB + 4097, length), Buffer.alloc(length));
      // Into another file, from beyond 4 GiB to below it and back above it.
      await worker.copy(fd, 6 * GiB + 4097, otherFd, 3 * GiB + 511, length);
      sameBytes(pread(otherFd, 3 * GiB + 511, length), high);
      await worker.copy(fd, GiB + 123, otherFd, 4 * GiB + 1, length);
      sameBytes(pread(otherFd, 4 * GiB + 1, length), low);
      sameBytes(pread(otherFd, 1, length), Buffer.alloc(length));
    } finally {
      await worker.close();
      closeSync(fd);
      closeSync(otherFd);
    }
  });

  it("completes 300 seeded copies submitted at once through 4 slots, each exact and in submission order", async () => {
    const worker = new IoWorker({ slots: 4, slotBytes: 16 * KiB });
    const prng = new Prng(4);
    const source = seeded(5, 2 * MiB);
    writeFileSync(join(shm, "many.src"), source);
    const from = openSync(join(shm, "many.src"), "r+");
    const to = openSync(join(shm, "many.dst"), "w+");
    const region = 64 * KiB;
    const copies = 300;
    ftruncateSync(to, copies * region);
    try {
      const expected = Buffer.alloc(copies * region);
      const pending: Promise<void>[] = [];
      for (let i = 0; i < copies; i++) {
        // Disjoint destination regions: the result does not depend on which copy lands first.
        const length = 1 + prng.nextInt(region);
        const fromAt = prng.nextInt(source.length - length);
        const toAt = i * region + prng.nextInt(region - length + 1);
        source.copy(expected, toAt, fromAt, fromAt + length);
        pending.push(worker.copy(from, fromAt, to, toAt, length));
      }
      assert.equal(worker.pending, copies);
      await Promise.all(pending);
      assert.equal(worker.pending, 0);
      sameBytes(readFileSync(join(shm, "many.dst")), expected);

      // Requests run in submission order: a copy queued before a write of its source sees the old
      // bytes, one queued after it the new ones (the queue is deeper than the slots here too).
      const old = source.subarray(0, 8 * KiB);
      const replaced = seeded(6, 8 * KiB);
      const burst: Promise<void>[] = [];
      for (let i = 0; i < 6; i++) burst.push(worker.copy(from, 0, to, i * region, 8 * KiB));
      burst.push(worker.write(from, 0, replaced, false));
      for (let i = 6; i < 12; i++) burst.push(worker.copy(from, 0, to, i * region, 8 * KiB));
      assert.equal(worker.pending, 13);
      await Promise.all(burst);
      for (let i = 0; i < 12; i++) {
        sameBytes(pread(to, i * region, 8 * KiB), i < 6 ? old : replaced, `copy ${i}`);
      }
    } finally {
      await worker.close();
      closeSync(from);
      closeSync(to);
    }
  });

  it("fails on the read side when the source cannot be read (EBADF), writing nothing", async () => {
    const worker = new IoWorker({ slots: 2, slotBytes: 64 * KiB });
    writeFileSync(join(shm, "wronly.src"), seeded(7, 256 * KiB));
    writeFileSync(join(shm, "wronly.dst"), Buffer.alloc(256 * KiB, 0x5a));
    const from = openSync(join(shm, "wronly.src"), constants.O_WRONLY);
    const to = openSync(join(shm, "wronly.dst"), "r+");
    try {
      await assert.rejects(worker.copy(from, 0, to, 1000, 200_000), copyFailure("read", "EBADF"));
      sameBytes(readFileSync(join(shm, "wronly.dst")), Buffer.alloc(256 * KiB, 0x5a));
    } finally {
      await worker.close();
      closeSync(from);
      closeSync(to);
    }
  });

  it("fails on the read side with EIO at the end of the source file (a short read is not a copy)", async () => {
    const worker = new IoWorker({ slots: 2, slotBytes: 64 * KiB });
    const source = seeded(8, 100_000);
    writeFileSync(join(shm, "short.src"), source);
    writeFileSync(join(shm, "short.dst"), Buffer.alloc(512 * KiB, 0x5a));
    const from = openSync(join(shm, "short.src"), "r");
    const to = openSync(join(shm, "short.dst"), "r+");
    const untouched = Buffer.alloc(512 * KiB, 0x5a);
    try {
      // Wholly past the end, and ending past it within the first slot: nothing is written.
      await assert.rejects(worker.copy(from, 200_000, to, 0, 4096), copyFailure("read", "EIO"));
      await assert.rejects(worker.copy(from, 99_000, to, 0, 4096), copyFailure("read", "EIO"));
      sameBytes(readFileSync(join(shm, "short.dst")), untouched);
      // The end in the second slot-sized piece: the first piece is written, nothing after it.
      await assert.rejects(worker.copy(from, 0, to, 4096, 150_000), copyFailure("read", "EIO"));
      const expected = Buffer.from(untouched);
      source.copy(expected, 4096, 0, 64 * KiB);
      sameBytes(readFileSync(join(shm, "short.dst")), expected);
    } finally {
      await worker.close();
      closeSync(from);
      closeSync(to);
    }
  });

  it("fails on the write side when the destination is open read-only (EBADF), the source unchanged", async () => {
    const worker = new IoWorker({ slots: 2, slotBytes: 64 * KiB });
    const source = seeded(9, 256 * KiB);
    writeFileSync(join(shm, "rdonly.src"), source);
    writeFileSync(join(shm, "rdonly.dst"), Buffer.alloc(256 * KiB));
    const from = openSync(join(shm, "rdonly.src"), "r+");
    const to = openSync(join(shm, "rdonly.dst"), "r");
    try {
      await assert.rejects(worker.copy(from, 0, to, 0, 200_000), copyFailure("write", "EBADF"));
      sameBytes(readFileSync(join(shm, "rdonly.src")), source);
      sameBytes(readFileSync(join(shm, "rdonly.dst")), Buffer.alloc(256 * KiB));
    } finally {
      await worker.close();
      closeSync(from);
      closeSync(to);
    }
  });

  it("keeps serving after failures: each request of a mixed queue settles with its own outcome", async () => {
    // One slot: every request reuses the slot a failed copy left its failure side in.
    const worker = new IoWorker({ slots: 1, slotBytes: 32 * KiB });
    const source = seeded(10, 256 * KiB);
    writeFileSync(join(shm, "mixed.src"), source);
    writeFileSync(join(shm, "mixed.dst"), Buffer.alloc(256 * KiB));
    const from = openSync(join(shm, "mixed.src"), "r");
    const fromWriteOnly = openSync(join(shm, "mixed.src"), constants.O_WRONLY);
    const to = openSync(join(shm, "mixed.dst"), "r+");
    const toReadOnly = openSync(join(shm, "mixed.dst"), "r");
    try {
      const expected = Buffer.alloc(256 * KiB);
      const outcomes = await Promise.allSettled([
        worker.copy(from, 0, toReadOnly, 0, 100_000),
        worker.copy(from, 0, to, 0, 100_000),
        worker.copy(fromWriteOnly, 0, to, 150_000, 50_000),
        worker.copy(from, 100_000, to, 150_000, 50_000),
        worker.copy(from, 250 * KiB, to, 200_000, 50_000),
        worker.copy(from, 200_000, to, 200_000, 50_000),
      ]);
      source.copy(expected, 0, 0, 100_000);
      source.copy(expected, 150_000, 100_000, 150_000);
      source.copy(expected, 200_000, 200_000, 250_000);
      assert.deepEqual(
        outcomes.map((o) => (o.status === "fulfilled" ? "ok" : (o.reason as CopyFailure).side)),
        ["write", "ok", "read", "ok", "read", "ok"],
      );
      sameBytes(readFileSync(join(shm, "mixed.dst")), expected);
      // Plain reads and writes still work on the same worker.
      const target = Buffer.alloc(4096);
      assert.equal(await worker.read(to, 150_000, target), 4096);
      sameBytes(target, source.subarray(100_000, 100_000 + 4096));
      await worker.write(to, 0, Buffer.alloc(512, 1), false);
      sameBytes(readFileSync(join(shm, "mixed.dst")).subarray(0, 512), Buffer.alloc(512, 1));
    } finally {
      await worker.close();
      for (const fd of [from, fromWriteOnly, to, toReadOnly]) closeSync(fd);
    }
  });

  it("fails a copy submitted after close() with EIO that blames neither side (it never ran)", async () => {
    const worker = new IoWorker({ slots: 1, slotBytes: 4096 });
    await worker.close();
    await assert.rejects(worker.copy(0, 0, 1, 0, 10), (err: unknown) => {
      assert.ok(!(err instanceof CopyFailure), "not a CopyFailure");
      assert.equal((err as NodeJS.ErrnoException).code, "EIO");
      assert.equal(isCopyReadFailure(err), false);
      return true;
    });
  });

  it("refuses a length its 32-bit slot word cannot hold (2^31 and up, 2^32 + 100) or that is no count", async () => {
    const worker = new IoWorker({ slots: 1, slotBytes: 4096 });
    try {
      for (const length of [2 ** 31, 2 ** 32 + 100, -1, 1.5, Number.NaN])
        await assert.rejects(worker.copy(0, 0, 1, 0, length), RangeError, `length ${length}`);
      assert.equal(worker.pending, 0, "nothing was submitted");
    } finally {
      await worker.close();
    }
  });
});
