// Copies between two files done by I/O worker threads (io-worker.ts, OP_COPY): each piece is a
// pread(2) into the worker's shared slot and a pwrite(2) from it, so the bytes never reach the event
// loop and the copy of one piece runs on another core while the event loop does the bookkeeping of
// the next (the spare drain's batches, src/remap/spare-batch-move.ts). Only devices that lend their
// file (CopyableFile: files and block devices through the page cache) take part; the caller copies
// any other range itself.
import { availableParallelism } from "node:os";
import type { BlockDevice } from "./block-device.js";
import { CopyFailure, IoWorker } from "./io-worker.js";

export { CopyFailure } from "./io-worker.js";

/** The file behind a range of a device: what a worker thread reads or writes with pread/pwrite. */
export interface FileRange {
  readonly fd: number;
  readonly position: number;
}

/** A device whose ranges a worker thread may copy to or from directly (FileDevice). */
export interface CopyableFile {
  /**
   * The file range behind `[offsetBytes, +lengthBytes)` when a worker may read it (or write it, when
   * `write`) with pread/pwrite: an open file through the page cache. Undefined otherwise (O_DIRECT,
   * closed, read-only for a write); throws for a range past the device like read() would.
   */
  copyRange(offsetBytes: number, lengthBytes: number, write: boolean): FileRange | undefined;
  /**
   * Run one side of an offloaded copy: the device stays open until `run` settles, counts the request
   * as a read or write of its own, and turns a CopyFailure of its side into the error its own read or
   * write would have thrown (still a CopyFailure of that side, so the caller knows which one failed).
   */
  copySide(
    side: "read" | "write",
    offsetBytes: number,
    lengthBytes: number,
    run: () => Promise<void>,
  ): Promise<void>;
}

/** `device` as a CopyableFile when it is one. */
export function copyableFile(device: BlockDevice): CopyableFile | undefined {
  const d = device as Partial<CopyableFile>;
  return d.copyRange !== undefined && d.copySide !== undefined ? (d as CopyableFile) : undefined;
}

/** Whether `device` lends its file now for reading (or writing, when `write`). */
export function lendsFile(device: BlockDevice, write: boolean): boolean {
  return copyableFile(device)?.copyRange(0, 0, write) !== undefined;
}

/**
 * A worker's buffer: it copies a range this much at a time. 1 MiB is dd's size, and the size the
 * drain's own copies measured best on tmpfs (bigger buffers leave the CPU caches, spare-batch-move.ts).
 */
const WORKER_BUFFER_BYTES = 1 << 20;

/** Largest range one worker copies as one request (the rest of a longer range goes to the next). */
export const COPY_PIECE_BYTES = 8 << 20;

/** Pieces in flight per worker before later ones wait for a slot. */
const SLOTS_PER_WORKER = 8;

/** Copies between files over a few worker threads, started on first use. */
export class CopyOffload {
  private workers: IoWorker[] | undefined;
  private next = 0;

  /** `threads` workers (default: one per CPU, at most 4), each taking whole pieces in turn. */
  constructor(private readonly threads = Math.min(4, Math.max(1, availableParallelism()))) {}

  /**
   * Copy `lengthBytes` from `from` at `fromOffset` to `to` at `toOffset` in worker threads, in
   * COPY_PIECE_BYTES pieces spread over the workers, all in flight at once; settles when every piece
   * has, with a failure (a CopyFailure naming its side, carrying that device's error; a failed write
   * before a failed read, which may leave earlier pieces written).
   * Returns undefined, having done nothing, when either device does not lend its file for the range.
   */
  copy(
    from: BlockDevice,
    fromOffset: number,
    to: BlockDevice,
    toOffset: number,
    lengthBytes: number,
  ): Promise<void> | undefined {
    const source = copyableFile(from);
    const target = copyableFile(to);
    if (!source || !target) return undefined;
    const read = source.copyRange(fromOffset, lengthBytes, false);
    const write = read && target.copyRange(toOffset, lengthBytes, true);
    if (!read || !write) return undefined;
    const workers = (this.workers ??= Array.from(
      { length: this.threads },
      () => new IoWorker({ slots: SLOTS_PER_WORKER, slotBytes: WORKER_BUFFER_BYTES }),
    ));
    const pieces: Promise<void>[] = [];
    for (let at = 0; at < lengthBytes; at += COPY_PIECE_BYTES) {
      const n = Math.min(COPY_PIECE_BYTES, lengthBytes - at);
      const worker = workers[this.next]!;
      this.next = (this.next + 1) % workers.length;
      pieces.push(
        source.copySide("read", fromOffset + at, n, () =>
          target.copySide("write", toOffset + at, n, () =>
            worker.copy(read.fd, read.position + at, write.fd, write.position + at, n),
          ),
        ),
      );
    }
    // A failed write is reported before a failed read: the caller quarantines what a write failed.
    return Promise.allSettled(pieces).then((outcomes) => {
      const failures = outcomes.flatMap((o) => (o.status === "rejected" ? [o.reason as unknown] : []));
      if (failures.length === 0) return;
      throw failures.find((err) => err instanceof CopyFailure && err.side === "write") ?? failures[0];
    });
  }

  /** Stop the worker threads (the next copy starts new ones). */
  async close(): Promise<void> {
    const workers = this.workers ?? [];
    this.workers = undefined;
    await Promise.all(workers.map((w) => w.close()));
  }
}

/** The process's copy workers, shared by every drain (threads are started on first use only). */
export const copyOffload = new CopyOffload();

/**
 * True when `err` is a failed offloaded copy's read (of the source range): no write failed, but
 * pieces before the failed one may be written.
 */
export function isCopyReadFailure(err: unknown): boolean {
  return err instanceof CopyFailure && err.side === "read";
}
