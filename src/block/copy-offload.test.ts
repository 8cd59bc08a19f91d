// CopyOffload over FileDevices (copy-offload.ts, FileDevice.copyRange / copySide): exact copies across
// and within devices on tmpfs and on a disk, pieces spread over the workers, the devices it refuses,
// the counters, failures turned into the device's own errors, and close() waiting for a copy.
import assert from "node:assert/strict";
import { closeSync, constants, openSync, readFileSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { readBytes } from "./base-device.js";
import type { BlockDevice } from "./block-device.js";
import {
  COPY_PIECE_BYTES,
  CopyFailure,
  CopyOffload,
  copyableFile,
  isCopyReadFailure,
  type CopyableFile,
} from "./copy-offload.js";
import { directTestDir } from "./direct-test-dir.js";
import { MediumError, NoSpaceError, OutOfRangeError } from "./errors.js";
import { FileDevice } from "./file-device.js";
import type { IoWorker } from "./io-worker.js";
import { MemoryDevice } from "./memory-device.js";
import { Prng } from "./prng.js";
import { sameBytes, seeded } from "../testing/bytes.js";

const KiB = 1024;
const MiB = 1 << 20;
const SHM = "/dev/shm";

/** A file of `data` opened as a FileDevice. */
function deviceOf(path: string, data: Uint8Array, options: { readOnly?: boolean } = {}): Promise<FileDevice> {
  writeFileSync(path, data);
  return FileDevice.open(path, options);
}

type Counters = { reads: number; writes: number; bytesRead: number; bytesWritten: number; errors: number };

function counters(device: BlockDevice): Counters {
  const { reads, writes, bytesRead, bytesWritten, errors } = device.status();
  return { reads, writes, bytesRead, bytesWritten, errors };
}

/** The requests in flight on each of the offload's workers (private: only a test looks). */
function workerLoads(offload: CopyOffload): number[] {
  const workers = (offload as unknown as { workers: IoWorker[] | undefined }).workers ?? [];
  return workers.map((w) => w.pending);
}

/**
 * `device` lending `fd` (another fd of its file) for `side`, while its own copySide
 * does the bookkeeping: how a test makes the worker's pread or pwrite fail for real.
 */
function lendingFd(device: FileDevice, side: "read" | "write", fd: number): BlockDevice & CopyableFile {
  const lender: CopyableFile = {
    copyRange: (offset, length, write) => {
      const range = device.copyRange(offset, length, write);
      return range && (write === (side === "write") ? { fd, position: range.position } : range);
    },
    copySide: (s, offset, length, run) => device.copySide(s, offset, length, run),
  };
  // CopyOffload looks only at copyRange and copySide (copyableFile).
  return lender as unknown as BlockDevice & CopyableFile;
}

const ROOTS = [
  { kind: "tmpfs", root: SHM },
  { kind: "disk", root: tmpdir() },
];

describe("CopyOffload", () => {
  const offload = new CopyOffload(2);
  const dirs: string[] = [];
  let directDir: string | undefined;
  const newDir = async (root: string): Promise<string> => {
    const dir = await mkdtemp(join(root, "dmremap-copyoff-"));
    dirs.push(dir);
    return dir;
  };
  after(async () => {
    await offload.close();
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
    if (directDir !== undefined) await rm(directDir, { recursive: true, force: true });
  });

  for (const { kind, root } of ROOTS) {
    describe(`on ${kind}`, () => {
      let dir = "";
      before(async () => {
        dir = await newDir(root);
      });

      it("copies exactly across devices, 8 MiB + 12 KiB as two pieces on the two workers, and counts them", async () => {
        const source = seeded(21, 10 * MiB);
        const from = await deviceOf(join(dir, "across.src"), source);
        const to = await FileDevice.create(join(dir, "across.dst"), 12 * MiB);
        try {
          const length = 8 * MiB + 12 * KiB;
          const fromAt = 3 * 4096 + 512;
          const toAt = MiB + 1024;
          const pieces = Math.ceil(length / COPY_PIECE_BYTES);
          assert.equal(pieces, 2);
          const copy = offload.copy(from, fromAt, to, toAt, length);
          assert.ok(copy, "two buffered file devices lend their files");
          // Every piece is in flight at once, one on each worker.
          assert.deepEqual(workerLoads(offload), [1, 1]);
          await copy;
          assert.deepEqual(workerLoads(offload), [0, 0]);

          const expected = Buffer.alloc(12 * MiB);
          source.copy(expected, toAt, fromAt, fromAt + length);
          sameBytes(await readBytes(to, 0, 12 * MiB), expected);
          assert.deepEqual(counters(from), {
            reads: pieces,
            writes: 0,
            bytesRead: length,
            bytesWritten: 0,
            errors: 0,
          });
          // The readBytes above is one more read of the destination.
          assert.deepEqual(counters(to), {
            reads: 1,
            writes: pieces,
            bytesRead: 12 * MiB,
            bytesWritten: length,
            errors: 0,
          });
          await to.close();
          sameBytes(readFileSync(join(dir, "across.dst")), expected);
          sameBytes(readFileSync(join(dir, "across.src")), source);
        } finally {
          await Promise.all([from.close(), to.close()]);
        }
      });

      it("copies exactly within one device between non-overlapping ranges", async () => {
        const image = Buffer.alloc(24 * MiB);
        seeded(22, 10 * MiB).copy(image, 0);
        const device = await deviceOf(join(dir, "within.img"), image);
        try {
          const length = 9 * MiB + 512;
          const copy = offload.copy(device, 512, device, 12 * MiB + 4096, length);
          assert.ok(copy);
          await copy;
          const expected = Buffer.from(image);
          image.copy(expected, 12 * MiB + 4096, 512, 512 + length);
          sameBytes(await readBytes(device, 0, 24 * MiB), expected);
          const status = counters(device);
          assert.equal(status.bytesRead - 24 * MiB, length);
          assert.equal(status.bytesWritten, length);
          assert.equal(status.errors, 0);
        } finally {
          await device.close();
        }
      });

      it("keeps 40 seeded copies in flight at once exact (more pieces than the workers' slots)", async () => {
        const source = seeded(23, 16 * MiB);
        const from = await deviceOf(join(dir, "many.src"), source);
        const region = 2 * MiB;
        const to = await FileDevice.create(join(dir, "many.dst"), 40 * region);
        const prng = new Prng(24);
        try {
          const expected = Buffer.alloc(40 * region);
          const copies: Promise<void>[] = [];
          for (let i = 0; i < 40; i++) {
            const length = 1 + prng.nextInt(region);
            const fromAt = prng.nextInt(source.length - length);
            const toAt = i * region + prng.nextInt(region - length + 1);
            source.copy(expected, toAt, fromAt, fromAt + length);
            const copy = offload.copy(from, fromAt, to, toAt, length);
            assert.ok(copy);
            copies.push(copy);
          }
          await Promise.all(copies);
          sameBytes(await readBytes(to, 0, 40 * region), expected);
          assert.equal(counters(to).writes, 40);
        } finally {
          await Promise.all([from.close(), to.close()]);
        }
      });

      it("copies from a read-only source but returns undefined for a read-only destination, doing nothing", async () => {
        const source = seeded(25, MiB);
        const readOnly = await deviceOf(join(dir, "ro.img"), source, { readOnly: true });
        const writable = await FileDevice.create(join(dir, "rw.img"), MiB);
        try {
          assert.equal(offload.copy(writable, 0, readOnly, 0, 4096), undefined);
          sameBytes(readFileSync(join(dir, "ro.img")), source);
          assert.deepEqual(counters(readOnly), {
            reads: 0,
            writes: 0,
            bytesRead: 0,
            bytesWritten: 0,
            errors: 0,
          });
          assert.deepEqual(counters(writable), {
            reads: 0,
            writes: 0,
            bytesRead: 0,
            bytesWritten: 0,
            errors: 0,
          });
          await offload.copy(readOnly, 4096, writable, 8192, 100_000);
          sameBytes(await readBytes(writable, 8192, 100_000), source.subarray(4096, 4096 + 100_000));
          assert.equal(counters(readOnly).bytesRead, 100_000);
        } finally {
          await Promise.all([readOnly.close(), writable.close()]);
        }
      });
    });
  }

  it("returns undefined for a MemoryDevice on either side, which is no CopyableFile", async () => {
    const dir = await newDir(SHM);
    const memory = new MemoryDevice({ sizeBytes: MiB });
    const file = await FileDevice.create(join(dir, "file.img"), MiB);
    try {
      assert.equal(copyableFile(memory), undefined);
      assert.equal(copyableFile(file), file);
      await memory.write(0, seeded(26, 4096));
      assert.equal(offload.copy(memory, 0, file, 0, 4096), undefined);
      assert.equal(offload.copy(file, 0, memory, 0, 4096), undefined);
      sameBytes(await readBytes(file, 0, 4096), Buffer.alloc(4096));
      assert.equal(counters(file).writes, 0);
    } finally {
      await Promise.all([memory.close(), file.close()]);
    }
  });

  it("returns undefined for an O_DIRECT FileDevice on either side", async (t) => {
    try {
      directDir = await directTestDir();
    } catch (err) {
      t.skip(`no directory here supports O_DIRECT: ${(err as Error).message}`);
      return;
    }
    const direct = await FileDevice.create(join(directDir, "direct.img"), MiB, { direct: true });
    const buffered = await FileDevice.create(join(directDir, "buffered.img"), MiB);
    try {
      assert.equal(direct.direct, true);
      assert.equal(direct.copyRange(0, 4096, false), undefined);
      assert.equal(offload.copy(direct, 0, buffered, 0, 4096), undefined);
      assert.equal(offload.copy(buffered, 0, direct, 0, 4096), undefined);
      assert.equal(offload.copy(direct, 0, direct, 8192, 4096), undefined);
      // The buffered one alone still lends its file.
      assert.equal(buffered.copyRange(4096, 512, true)?.position, 4096);
      assert.equal(counters(direct).reads + counters(buffered).writes, 0);
    } finally {
      await Promise.all([direct.close(), buffered.close()]);
    }
  });

  it("returns undefined for a closed device and throws OutOfRangeError for a range past a device", async () => {
    const dir = await newDir(SHM);
    const a = await FileDevice.create(join(dir, "a.img"), MiB);
    const b = await FileDevice.create(join(dir, "b.img"), MiB);
    try {
      assert.throws(() => offload.copy(a, MiB - 512, b, 0, 1024), OutOfRangeError);
      assert.throws(() => offload.copy(a, 0, b, MiB - 512, 1024), OutOfRangeError);
      assert.throws(() => offload.copy(a, -512, b, 0, 512), OutOfRangeError);
      await b.close();
      assert.equal(offload.copy(a, 0, b, 0, 4096), undefined);
      assert.equal(offload.copy(b, 0, a, 0, 4096), undefined);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it("fails a write on the worker as a CopyFailure 'write' whose cause is a MediumError naming the destination", async () => {
    const dir = await newDir(SHM);
    const source = seeded(27, 9 * MiB);
    const from = await deviceOf(join(dir, "wfail.src"), source);
    const to = await FileDevice.create(join(dir, "wfail.dst"), 10 * MiB);
    const readOnlyFd = openSync(join(dir, "wfail.dst"), "r");
    try {
      const length = 8 * MiB + 12 * KiB;
      const copy = offload.copy(from, 0, lendingFd(to, "write", readOnlyFd), MiB, length);
      assert.ok(copy);
      await assert.rejects(copy, (err: unknown) => {
        assert.ok(err instanceof CopyFailure);
        assert.equal(err.side, "write");
        assert.equal(isCopyReadFailure(err), false);
        assert.ok(err.cause instanceof MediumError, `cause: ${String(err.cause)}`);
        assert.equal(err.cause.device, to.name);
        assert.equal(err.cause.op, "write");
        assert.equal(err.cause.offsetBytes, MiB);
        assert.equal(err.cause.lengthBytes, COPY_PIECE_BYTES);
        assert.match(err.cause.message, /wfail\.dst: write failed at offset 1048576 length 8388608: EBADF/);
        return true;
      });
      // Each piece failed on the destination; the source did not fail.
      assert.deepEqual(counters(to), { reads: 0, writes: 0, bytesRead: 0, bytesWritten: 0, errors: 2 });
      assert.equal(counters(from).errors, 0);
      sameBytes(readFileSync(join(dir, "wfail.dst")), Buffer.alloc(10 * MiB));
    } finally {
      closeSync(readOnlyFd);
      await Promise.all([from.close(), to.close()]);
    }
  });

  it("fails a read on the worker as a CopyFailure 'read' naming the source, the destination untouched", async () => {
    const dir = await newDir(SHM);
    const from = await deviceOf(join(dir, "rfail.src"), seeded(28, 2 * MiB));
    const to = await FileDevice.create(join(dir, "rfail.dst"), 2 * MiB);
    const writeOnlyFd = openSync(join(dir, "rfail.src"), constants.O_WRONLY);
    try {
      const copy = offload.copy(lendingFd(from, "read", writeOnlyFd), 4096, to, 0, MiB);
      assert.ok(copy);
      await assert.rejects(copy, (err: unknown) => {
        assert.ok(err instanceof CopyFailure);
        assert.equal(err.side, "read");
        assert.equal(isCopyReadFailure(err), true);
        assert.ok(err.cause instanceof MediumError);
        assert.equal(err.cause.device, from.name);
        assert.equal(err.cause.op, "read");
        assert.match(err.cause.message, /rfail\.src: read failed at offset 4096 length 1048576: EBADF/);
        return true;
      });
      assert.equal(counters(from).errors, 1);
      assert.deepEqual(counters(to), { reads: 0, writes: 0, bytesRead: 0, bytesWritten: 0, errors: 0 });
      sameBytes(readFileSync(join(dir, "rfail.dst")), Buffer.alloc(2 * MiB));
    } finally {
      closeSync(writeOnlyFd);
      await Promise.all([from.close(), to.close()]);
    }
  });

  it("copySide turns a CopyFailure of its own side into its device's error and passes others through", async () => {
    const dir = await newDir(SHM);
    const device = await FileDevice.create(join(dir, "side.img"), MiB);
    const errno = (code: string): NodeJS.ErrnoException => Object.assign(new Error(code), { code });
    try {
      await assert.rejects(
        device.copySide("write", 8192, 4096, () => Promise.reject(new CopyFailure("write", errno("EIO")))),
        (err: unknown) => {
          assert.ok(err instanceof CopyFailure);
          assert.equal(err.side, "write");
          assert.ok(err.cause instanceof MediumError);
          assert.equal(err.cause.device, device.name);
          assert.deepEqual(
            [err.cause.op, err.cause.offsetBytes, err.cause.lengthBytes],
            ["write", 8192, 4096],
          );
          return true;
        },
      );
      // ENOSPC is the device's NoSpaceError, like its own write's.
      await assert.rejects(
        device.copySide("write", 0, 512, () => Promise.reject(new CopyFailure("write", errno("ENOSPC")))),
        (err: unknown) => err instanceof CopyFailure && err.cause instanceof NoSpaceError,
      );
      await assert.rejects(
        device.copySide("read", 0, 512, () => Promise.reject(new CopyFailure("read", errno("EIO")))),
        (err: unknown) =>
          err instanceof CopyFailure && err.cause instanceof MediumError && err.cause.op === "read",
      );
      assert.equal(counters(device).errors, 3);
      // The other side's failure, and any other error, pass through as they are, not counted here.
      const other = new CopyFailure("read", errno("EIO"));
      await assert.rejects(
        device.copySide("write", 0, 512, () => Promise.reject(other)),
        (err) => err === other,
      );
      const plain = new Error("not a copy failure");
      await assert.rejects(
        device.copySide("read", 0, 512, () => Promise.reject(plain)),
        (err) => err === plain,
      );
      assert.deepEqual(counters(device), { reads: 0, writes: 0, bytesRead: 0, bytesWritten: 0, errors: 3 });
      // A side that succeeds counts one request of its length.
      await device.copySide("read", 0, 1000, () => Promise.resolve());
      await device.copySide("write", 0, 3000, () => Promise.resolve());
      assert.deepEqual(counters(device), {
        reads: 1,
        writes: 1,
        bytesRead: 1000,
        bytesWritten: 3000,
        errors: 3,
      });
    } finally {
      await device.close();
    }
  });

  it("close() of the devices waits for a 64 MiB copy in flight, which completes exactly", async () => {
    const dir = await newDir(SHM);
    const length = 64 * MiB;
    const source = seeded(29, length);
    const from = await deviceOf(join(dir, "close.src"), source);
    const to = await FileDevice.create(join(dir, "close.dst"), length);
    const order: string[] = [];
    const copy = offload.copy(from, 0, to, 0, length);
    assert.ok(copy);
    const copied = copy.then(
      () => order.push("copy resolved"),
      (err: unknown) => order.push(`copy rejected: ${String(err)}`),
    );
    const closing = Promise.all([
      to.close().then(() => order.push("destination closed")),
      from.close().then(() => order.push("source closed")),
    ]);
    // Closed at once (no new copy starts), but the pieces in flight hold the files open.
    assert.equal(to.status().closed, true);
    assert.equal(to.status()["inflight"], length / COPY_PIECE_BYTES);
    assert.equal(from.status()["inflight"], length / COPY_PIECE_BYTES);
    assert.equal(offload.copy(from, 0, to, 0, 4096), undefined);
    await closing;
    await copied;
    assert.equal(order[0], "copy resolved");
    assert.deepEqual(order.slice(1).sort(), ["destination closed", "source closed"]);
    sameBytes(readFileSync(join(dir, "close.dst")), source);
  });

  it("starts new workers for a copy after close()", async () => {
    const local = new CopyOffload(1);
    const dir = await newDir(SHM);
    const source = seeded(30, MiB);
    const from = await deviceOf(join(dir, "again.src"), source);
    const to = await FileDevice.create(join(dir, "again.dst"), MiB);
    try {
      await local.copy(from, 0, to, 0, 300_000);
      assert.deepEqual(workerLoads(local), [0]);
      await local.close();
      assert.deepEqual(workerLoads(local), []);
      await local.copy(from, 300_000, to, 300_000, 400_001);
      assert.deepEqual(workerLoads(local), [0]);
      sameBytes(await readBytes(to, 0, 700_001), source.subarray(0, 700_001));
    } finally {
      await local.close();
      await Promise.all([from.close(), to.close()]);
    }
  });
});
