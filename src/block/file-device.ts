// A block device backed by a regular file or a Linux block device: positional I/O on one fd.
// Node has no fallocate/BLKDISCARD, so TRIM writes zeroes; `direct` opens O_DIRECT (direct-io.ts).
import fs from "node:fs";
import { performance } from "node:perf_hooks";
import { directIoBuffers } from "./aligned-buffers.js";
import type { DeviceCapabilities, WriteOptions } from "./block-device.js";
import type { BulkReadNow, BulkWriteNow } from "./answer-now.js";
import { BaseDevice } from "./base-device.js";
import { CopyFailure, type CopyableFile, type FileRange } from "./copy-offload.js";
import { decodeDeviceNumber, readBlockDeviceSize, readLogicalBlockSize } from "./block-sysfs.js";
import { DirectIo } from "./direct-io.js";
import { DeviceInUseError, OpenError, SpecError } from "./errors.js";
import { endOfFile, ioFailure, readFully, writeFully } from "./file-io.js";
import { ioEngineFromEnv, ioWorkerFor, type IoEngine } from "./io-engine.js";
import { INLINE_PAGE_BYTES, InlineWriteGate, inlineWritesFromEnv } from "./inline-writes.js";
import { WorkerFilePath } from "./file-device-worker.js";

/** Largest single read()/write() call; longer requests loop (the kernel may also transfer less). */
const MAX_IO_BYTES = 1 << 30;
/** statfs f_type of tmpfs and ramfs: their file pages live in memory, so I/O never waits on a device. */
const MEMORY_FS_TYPES: readonly number[] = [0x01021994, 0x858458f6];
/**
 * Memory-backed reads (and inline page-cache writes on disks) up to this size run synchronously (the
 * copy costs less than a threadpool round trip); larger ones go to the threadpool, where they run in
 * parallel with the event loop. Memory-backed writes have their own limit below.
 */
export const SYNC_IO_MAX_BYTES = 32 * 1024;
/**
 * Memory-backed writes up to this size run synchronously as well; larger ones go to the threadpool.
 * A write into tmpfs is a copy that never waits on a device, so below this size the threadpool round
 * trip costs more than the copy. Above it the copy is long enough that doing it on the event loop
 * stops the socket from being read meanwhile, and the client stalls: served 1 MiB writes went 1,671 -
 * 1,815 MiB/s synchronously and 2,355 - 3,042 through the threadpool, 512 KiB 1,639 - 1,681 against
 * 2,391 - 2,489, 256 KiB 1,683 - 1,763 against 2,017 - 2,093; 128 KiB 1,945 - 1,996 against 1,733 -
 * 1,786 and 64 KiB 1,714 - 1,853 against 1,243 - 1,271 (fio QD8 over NBD, docs/PERFORMANCE.md,
 * issue 16 round 10).
 */
export const MEMORY_WRITE_SYNC_MAX_BYTES = 128 * 1024;
/**
 * A background copy's read or write of a memory-backed file takes up to this much in one synchronous
 * call (tryBulkReadNow, tryBulkWriteNow): a copy has no socket to read meanwhile.
 */
export const BULK_IO_MAX_BYTES = 1 << 20;

export { decodeDeviceNumber, readBlockDeviceSize, readLogicalBlockSize } from "./block-sysfs.js";

/** Options of a file device. */
export interface FileDeviceOptions {
  /** Open O_RDONLY; writes, trims and zeroing fail with ReadOnlyError. */
  readonly readOnly?: boolean;
  /**
   * O_DIRECT: bypass the page cache; data moves through aligned bounce buffers at offsets aligned to
   * the logical block size. A filesystem that refuses O_DIRECT (EINVAL) makes open fail: no fallback.
   */
  readonly direct?: boolean;
  /** Root of sysfs, for tests (default "/sys"). */
  readonly sysfsRoot?: string;
  /**
   * Open a block device read-write with O_EXCL: the kernel refuses (EBUSY) a device that is mounted
   * or claimed (md, LVM, another exclusive opener), which fails with DeviceInUseError.
   */
  readonly exclusive?: boolean;
  /**
   * Who does the buffered positional I/O (io-engine.ts): "worker" threads from shared memory,
   * "loop" (the event loop for tmpfs, libuv's threadpool otherwise) or "auto". Default: the
   * DMREMAP_IO_ENGINE environment variable, else "auto".
   */
  readonly ioEngine?: IoEngine;
  /**
   * Small page-aligned writes of a buffered file on a disk run on the event loop while they stay
   * fast (inline-writes.ts). Default: DMREMAP_IO_INLINE_WRITES, else true.
   */
  readonly inlineWrites?: boolean;
}

function fdatasync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.fdatasync(fd, (err) => (err ? reject(err) : resolve())));
}

function openFd(path: string, flags: number): Promise<number> {
  return new Promise((resolve, reject) =>
    fs.open(path, flags, (err, fd) => (err ? reject(err) : resolve(fd))),
  );
}

/** Device number of `path` when it is a block device. */
function blockDeviceNumber(path: string): Promise<string | undefined> {
  return new Promise((resolve) =>
    fs.stat(path, (err, st) => resolve(!err && st.isBlockDevice() ? String(st.rdev) : undefined)),
  );
}

/**
 * Block devices this process holds with O_EXCL, with their open count: a second open of the same
 * disk (main and spare as two slices of it) must not ask the kernel again, which would refuse it.
 */
const exclusiveHolds = new Map<string, number>();

function releaseHold(key: string | undefined): void {
  if (key === undefined) return;
  const n = (exclusiveHolds.get(key) ?? 1) - 1;
  if (n > 0) exclusiveHolds.set(key, n);
  else exclusiveHolds.delete(key);
}

function closeFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.close(fd, (err) => (err ? reject(err) : resolve())));
}

function fstatBig(fd: number): Promise<fs.BigIntStats> {
  return new Promise((resolve, reject) =>
    fs.fstat(fd, { bigint: true }, (err, st) => (err ? reject(err) : resolve(st))),
  );
}

/**
 * File offset / length alignment of O_DIRECT I/O: the logical block size of the block device (for
 * a regular file, of the device holding it), at least 512; 4096 when sysfs does not say.
 */
async function directAlignment(st: fs.BigIntStats, sysfsRoot: string | undefined): Promise<number> {
  const { major, minor } = decodeDeviceNumber(st.isBlockDevice() ? st.rdev : st.dev);
  const size = await readLogicalBlockSize(major, minor, sysfsRoot);
  return size === undefined ? 4096 : Math.max(512, size);
}

/** True when `path` is on tmpfs / ramfs (false if that cannot be determined). */
function onMemoryFs(path: string): Promise<boolean> {
  return new Promise((resolve) =>
    fs.statfs(path, (err, st) => resolve(!err && MEMORY_FS_TYPES.includes(Number(st.type)))),
  );
}

function openFailure(path: string, err: unknown, direct = false): OpenError {
  const code = (err as NodeJS.ErrnoException).code;
  if (direct && code === "EINVAL") {
    return new OpenError(
      path,
      `cannot open "${path}" with O_DIRECT: the filesystem does not support direct I/O (EINVAL)`,
      { cause: err },
    );
  }
  const why =
    code === "ENOENT"
      ? "no such file or directory"
      : code === "EACCES" || code === "EPERM"
        ? "permission denied"
        : code === "EISDIR"
          ? "is a directory"
          : (code ?? String(err));
  return new OpenError(path, `cannot open "${path}": ${why}`, { cause: err });
}

/**
 * Regular file or block device; flush = fdatasync, FUA = write then fdatasync, TRIM = write zeroes.
 * Small reads and writes of a regular file on tmpfs / ramfs are synchronous (`memoryBacked`): a page
 * copy is cheaper than a threadpool round trip and cannot wait on a device (see docs/PERFORMANCE.md).
 */
export class FileDevice extends BaseDevice implements CopyableFile, BulkReadNow, BulkWriteNow {
  readonly capabilities: DeviceCapabilities;
  readonly name: string;
  private inflight = 0;
  /** Set when this open counts in exclusiveHolds. */
  private exclusiveKey: string | undefined;
  private drained: (() => void) | undefined;

  private constructor(
    readonly path: string,
    private readonly fd: number,
    readonly sizeBytes: number,
    readonly isBlockDevice: boolean,
    readOnly: boolean,
    /** The file lives in memory (tmpfs / ramfs): data I/O runs synchronously. */
    readonly memoryBacked: boolean,
    /** Set when opened O_DIRECT: the aligned data path. */
    private readonly directIo: DirectIo | undefined,
    /** Set when an I/O worker thread does this device's buffered I/O (FIFO). */
    private readonly worker: WorkerFilePath | undefined,
    /** Set when small buffered writes to a disk may run on the event loop. */
    private readonly inline: InlineWriteGate | undefined,
  ) {
    super();
    this.name = path;
    this.capabilities = { flush: true, fua: true, trim: true, writeZeroes: true, readOnly };
  }

  /** Open an existing regular file or block device. */
  static async open(path: string, options: FileDeviceOptions = {}): Promise<FileDevice> {
    const readOnly = options.readOnly ?? false;
    const direct = options.direct ?? false;
    let fd: number;
    let exclusiveKey: string | undefined;
    try {
      let flags = readOnly ? fs.constants.O_RDONLY : fs.constants.O_RDWR;
      exclusiveKey = options.exclusive && !readOnly ? await blockDeviceNumber(path) : undefined;
      if (exclusiveKey !== undefined && !exclusiveHolds.has(exclusiveKey)) flags |= fs.constants.O_EXCL;
      fd = await openFd(path, direct ? flags | fs.constants.O_DIRECT : flags);
      if (exclusiveKey !== undefined)
        exclusiveHolds.set(exclusiveKey, (exclusiveHolds.get(exclusiveKey) ?? 0) + 1);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EBUSY") {
        throw new DeviceInUseError(
          path,
          `cannot open "${path}" for writing: it is mounted or in use by another program (the kernel refused an exclusive open, EBUSY)`,
          { cause: err },
        );
      }
      throw openFailure(path, err, direct);
    }
    try {
      const st = await fstatBig(fd);
      let sizeBytes: number;
      if (st.isFile()) {
        sizeBytes = Number(st.size);
      } else if (st.isBlockDevice()) {
        const { major, minor } = decodeDeviceNumber(st.rdev);
        try {
          sizeBytes = await readBlockDeviceSize(major, minor, options.sysfsRoot);
        } catch (err) {
          throw new OpenError(path, `cannot read the size of block device "${path}" (${major}:${minor})`, {
            cause: err,
          });
        }
      } else {
        throw new SpecError(path, `"${path}" is neither a regular file nor a block device`);
      }
      if (sizeBytes === 0 || sizeBytes % 512 !== 0) {
        throw new SpecError(path, `"${path}": size ${sizeBytes} is not a positive multiple of 512 bytes`);
      }
      let directIo: DirectIo | undefined;
      if (direct) {
        const alignBytes = await directAlignment(st, options.sysfsRoot);
        if (sizeBytes % alignBytes !== 0) {
          throw new SpecError(
            path,
            `"${path}": size ${sizeBytes} is not a multiple of its direct I/O alignment ${alignBytes}`,
          );
        }
        directIo = new DirectIo(fd, path, alignBytes, directIoBuffers);
      }
      // The synchronous memory path copies from plain buffers, which O_DIRECT cannot take.
      const memoryBacked = !direct && st.isFile() && (await onMemoryFs(path));
      const engine = options.ioEngine ?? ioEngineFromEnv();
      // "auto" is the event loop / threadpool: the worker measured slower on both (docs/PERFORMANCE.md).
      const useWorker = !direct && engine === "worker";
      const device = new FileDevice(
        path,
        fd,
        sizeBytes,
        st.isBlockDevice(),
        readOnly,
        memoryBacked,
        directIo,
        useWorker ? new WorkerFilePath(ioWorkerFor(path), fd, path) : undefined,
        !direct && !useWorker && !memoryBacked && !readOnly && (options.inlineWrites ?? inlineWritesFromEnv())
          ? new InlineWriteGate()
          : undefined,
      );
      device.exclusiveKey = exclusiveKey;
      return device;
    } catch (err) {
      releaseHold(exclusiveKey);
      await closeFd(fd).catch(() => undefined);
      throw err;
    }
  }

  /** Create a new sparse file of `sizeBytes` (refuses to overwrite an existing one) and open it. */
  static async create(
    path: string,
    sizeBytes: number,
    options: Pick<FileDeviceOptions, "direct" | "ioEngine"> = {},
  ): Promise<FileDevice> {
    if (!Number.isSafeInteger(sizeBytes) || sizeBytes <= 0 || sizeBytes % 512 !== 0) {
      throw new SpecError(path, `"${path}": size ${sizeBytes} is not a positive multiple of 512 bytes`);
    }
    const flags = fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_EXCL;
    let fd: number;
    try {
      fd = await openFd(path, flags);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EEXIST") {
        throw new OpenError(path, `cannot create "${path}": file exists`, { cause: err });
      }
      throw openFailure(path, err);
    }
    try {
      await new Promise<void>((resolve, reject) =>
        fs.ftruncate(fd, sizeBytes, (err) => (err ? reject(err) : resolve())),
      );
    } finally {
      await closeFd(fd);
    }
    return FileDevice.open(path, options);
  }

  /** Direct I/O alignment (file offsets and lengths), or 512 for buffered I/O. */
  override get logicalBlockSize(): number {
    return this.directIo?.alignBytes ?? 512;
  }

  /** Opened with O_DIRECT. */
  get direct(): boolean {
    return this.directIo !== undefined;
  }

  private async track<T>(run: () => Promise<T>): Promise<T> {
    this.inflight++;
    try {
      return await run();
    } finally {
      if (--this.inflight === 0) this.drained?.();
    }
  }

  /** Count `request` in flight until it settles (cheaper than track() for an existing promise). */
  private counted(request: Promise<void>): Promise<void> {
    this.inflight++;
    const settle = (): void => {
      if (--this.inflight === 0) this.drained?.();
    };
    request.then(settle, settle);
    return request;
  }

  protected _read(offsetBytes: number, target: Uint8Array): Promise<void> {
    if (this.directIo) return this.directRead(this.directIo, offsetBytes, target);
    if (this.worker?.fits(target.length)) return this.counted(this.worker.read(offsetBytes, target));
    const onLoop = this.readOnLoop(offsetBytes, target);
    if (onLoop !== false) return onLoop ? Promise.reject(onLoop) : Promise.resolve();
    return this.counted(readFully(this.fd, this.name, target, offsetBytes));
  }

  /**
   * A small read of a memory-backed file, done on the event loop (no threadpool hop): undefined when
   * done, its error when it failed, false when the read must go through the threadpool.
   */
  private readOnLoop(offsetBytes: number, target: Uint8Array): Error | undefined | false {
    if (!this.memoryBacked || target.length > SYNC_IO_MAX_BYTES) return false;
    return this.readSyncAll(offsetBytes, target);
  }

  /** The whole of `target` read synchronously; returns the error instead of throwing it. */
  private readSyncAll(offsetBytes: number, target: Uint8Array): Error | undefined {
    let done = 0;
    while (done < target.length) {
      const want = Math.min(MAX_IO_BYTES, target.length - done);
      let n: number;
      try {
        n = fs.readSync(this.fd, target, done, want, offsetBytes + done);
      } catch (err) {
        return ioFailure(this.name, "read", offsetBytes + done, want, err);
      }
      if (n === 0) return endOfFile(this.name, offsetBytes + done, target.length - done);
      done += n;
    }
    return undefined;
  }

  /**
   * A small write without FUA done on the event loop: memory-backed files, and page-aligned writes
   * the inline gate lets through (inline-writes.ts). Undefined when done, its error when it failed,
   * false when the write must go through the threadpool.
   */
  private writeOnLoop(offsetBytes: number, data: Uint8Array): Error | undefined | false {
    if (this.memoryBacked)
      return data.length > MEMORY_WRITE_SYNC_MAX_BYTES ? false : this.writeSyncAll(offsetBytes, data);
    if (data.length > SYNC_IO_MAX_BYTES) return false;
    const inline = this.inline;
    const fits =
      inline !== undefined &&
      offsetBytes % INLINE_PAGE_BYTES === 0 &&
      data.length % INLINE_PAGE_BYTES === 0 &&
      inline.allows();
    if (!fits) return false;
    const started = performance.now();
    const err = this.writeSyncAll(offsetBytes, data);
    inline.took(performance.now() - started);
    return err;
  }

  /** The whole of `data` written synchronously; returns the error instead of throwing it. */
  private writeSyncAll(offsetBytes: number, data: Uint8Array): Error | undefined {
    let done = 0;
    while (done < data.length) {
      const want = Math.min(MAX_IO_BYTES, data.length - done);
      try {
        done += fs.writeSync(this.fd, data, done, want, offsetBytes + done);
      } catch (err) {
        return ioFailure(this.name, "write", offsetBytes + done, want, err);
      }
    }
    return undefined;
  }

  /** The fast path takes exactly the reads _read() does on the event loop; a failure refuses. */
  protected override _readNow(offsetBytes: number, target: Uint8Array): boolean {
    if (this.directIo || this.worker?.fits(target.length)) return false;
    return this.readOnLoop(offsetBytes, target) === undefined;
  }

  /**
   * A background copy's read of a memory-backed file, up to BULK_IO_MAX_BYTES in one call
   * (answer-now.ts BulkReadNow): served reads keep SYNC_IO_MAX_BYTES, while a copy that reads 1 MiB
   * in 32 KiB pieces spends a tenth of its time in the extra calls (replace-main on tmpfs,
   * docs/PERFORMANCE.md). False, with nothing counted, where tryReadNow would refuse.
   */
  tryBulkReadNow(offsetBytes: number, target: Uint8Array): boolean {
    const n = target.length;
    if (!this.takesBulk(offsetBytes, n) || this.readSyncAll(offsetBytes, target) !== undefined) return false;
    this.counters.reads++;
    this.counters.bytesRead += n;
    return true;
  }

  /**
   * A background copy's write into a memory-backed file, up to BULK_IO_MAX_BYTES in one call
   * (answer-now.ts BulkWriteNow), where a served write that large goes to the threadpool: replace-main
   * under user I/O copies one step per event-loop turn, and a threadpool round trip per step halved
   * its rate (docs/PERFORMANCE.md). False, with nothing counted, where tryWriteNow would refuse.
   */
  tryBulkWriteNow(offsetBytes: number, data: Uint8Array): boolean {
    const n = data.length;
    if (this.capabilities.readOnly || !this.takesBulk(offsetBytes, n)) return false;
    if (this.writeSyncAll(offsetBytes, data) !== undefined) return false;
    this.counters.writes++;
    this.counters.bytesWritten += n;
    return true;
  }

  /** Whether a background copy's request of `n` bytes at `offsetBytes` may run now, in one call. */
  private takesBulk(offsetBytes: number, n: number): boolean {
    if (this.closed || n === 0 || n > BULK_IO_MAX_BYTES) return false;
    return this.memoryBacked && !this.directIo && !this.worker && this.inRange(offsetBytes, n);
  }

  /** The fast path takes exactly the non-FUA writes _write() does on the event loop. */
  protected override _writeNow(offsetBytes: number, data: Uint8Array): boolean {
    if (this.directIo || this.worker) return false;
    return this.writeOnLoop(offsetBytes, data) === undefined;
  }

  protected _write(offsetBytes: number, data: Uint8Array, options: WriteOptions): Promise<void> {
    if (this.directIo) return this.directWrite(this.directIo, offsetBytes, data, options);
    if (this.worker) return this.counted(this.worker.write(offsetBytes, data, options.fua === true));
    const onLoop = options.fua ? false : this.writeOnLoop(offsetBytes, data);
    if (onLoop !== false) return onLoop ? Promise.reject(onLoop) : Promise.resolve();
    if (options.fua)
      return this.track(() => writeFully(this.fd, this.name, data, offsetBytes).then(() => this.sync()));
    return this.counted(writeFully(this.fd, this.name, data, offsetBytes));
  }

  private directRead(io: DirectIo, offsetBytes: number, target: Uint8Array): Promise<void> {
    return this.track(() => io.read(offsetBytes, target));
  }

  /** O_DIRECT skips the page cache but not the device's write cache: FUA still syncs. */
  private directWrite(
    io: DirectIo,
    offsetBytes: number,
    data: Uint8Array,
    options: WriteOptions,
  ): Promise<void> {
    return this.track(async () => {
      await io.write(offsetBytes, data);
      if (options.fua) await this.sync();
    });
  }

  private async sync(): Promise<void> {
    if (this.worker) return this.worker.sync();
    try {
      // tmpfs / ramfs have nothing to write back (their fsync is a no-op): no threadpool round trip.
      if (this.memoryBacked) fs.fdatasyncSync(this.fd);
      else await fdatasync(this.fd);
    } catch (err) {
      throw ioFailure(this.name, "flush", 0, 0, err);
    }
  }

  protected _flush(): Promise<void> {
    return this.track(() => this.sync());
  }

  /** No discard primitive in Node: trimmed ranges are overwritten with zeroes. */
  protected override _trim(offsetBytes: number, lengthBytes: number): Promise<void> {
    return this._writeZeroes(offsetBytes, lengthBytes, {});
  }

  /** Through the page cache only: an O_DIRECT range needs aligned buffers the worker's slots are not. */
  copyRange(offsetBytes: number, lengthBytes: number, write: boolean): FileRange | undefined {
    this.assertRange(offsetBytes, lengthBytes);
    if (this.closed || this.directIo || (write && this.capabilities.readOnly)) return undefined;
    return { fd: this.fd, position: offsetBytes };
  }

  copySide(
    side: "read" | "write",
    offsetBytes: number,
    lengthBytes: number,
    run: () => Promise<void>,
  ): Promise<void> {
    return this.track(async () => {
      try {
        await run();
      } catch (err) {
        if (!(err instanceof CopyFailure) || err.side !== side) throw err;
        this.counters.errors++;
        throw new CopyFailure(side, ioFailure(this.name, side, offsetBytes, lengthBytes, err.cause));
      }
      if (side === "read") {
        this.counters.reads++;
        this.counters.bytesRead += lengthBytes;
      } else {
        this.counters.writes++;
        this.counters.bytesWritten += lengthBytes;
      }
    });
  }

  /** Waits for in-flight requests so the fd number is never reused under them. */
  protected override async _close(): Promise<void> {
    if (this.inflight > 0) await new Promise<void>((resolve) => (this.drained = resolve));
    releaseHold(this.exclusiveKey);
    this.exclusiveKey = undefined;
    await closeFd(this.fd);
  }

  protected override statusExtra(): Record<string, unknown> {
    return {
      path: this.path,
      blockDevice: this.isBlockDevice,
      memoryBacked: this.memoryBacked,
      direct: this.direct,
      ioEngine: this.worker ? "worker" : "loop",
      ...(this.inline
        ? { inlineWrites: { coolingOff: this.inline.coolingOff, slowWrites: this.inline.slowWrites } }
        : {}),
      ...(this.directIo ? { directAlignmentBytes: this.directIo.alignBytes } : {}),
      inflight: this.inflight,
    };
  }

  describe(): string {
    if (this.directIo) return `file+direct:${this.path}`;
    return /^[A-Za-z][A-Za-z0-9+.-]*:/.test(this.path) ? `file:${this.path}` : this.path;
  }
}
