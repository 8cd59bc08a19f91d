// The event-loop side of an I/O worker thread: requests go into shared-memory slots and a
// submission ring (the worker is woken only when it sleeps); completions are drained in batches,
// one wake-up message per batch. Requests of one IoWorker run in submission order (FIFO).
import os from "node:os";
import { MessageChannel, Worker, type MessagePort } from "node:worker_threads";
import {
  announceWait,
  COPY_FAILED_WRITE,
  CTRL_COMP_HEAD,
  CTRL_STOP,
  CTRL_SUB_HEAD,
  CTRL_WORKER_SLEEPING,
  ioRing,
  OP_COPY,
  OP_READ,
  OP_SYNC,
  OP_WRITE,
  OP_WRITE_SYNC,
  SLOT_COPY_FAILED,
  SLOT_COPY_FD,
  SLOT_FD,
  SLOT_LENGTH,
  SLOT_OP,
  SLOT_RESULT,
  slotWord,
  type IoRing,
} from "./io-ring.js";

const ERRNO_NAMES = new Map<number, string>(
  Object.entries(os.constants.errno).map(([name, n]) => [-n, name] as const),
);

/** A failed worker operation: an errno error like the one fs would have thrown. */
function errnoError(errno: number, op: string): NodeJS.ErrnoException {
  const code = ERRNO_NAMES.get(errno) ?? "EIO";
  const err: NodeJS.ErrnoException = new Error(`${code}: ${op} failed in the I/O worker`);
  err.code = code;
  err.errno = errno;
  return err;
}

/**
 * A failed OP_COPY: which side failed and its error (the errno error from the worker, or the error
 * the device of that side would have thrown, copy-offload.ts).
 */
export class CopyFailure extends Error {
  constructor(
    readonly side: "read" | "write",
    override readonly cause: Error,
  ) {
    super(`copy failed at its ${side}: ${cause.message}`);
  }
}

/** Where an OP_COPY writes. */
interface CopyDestination {
  readonly fd: number;
  readonly position: number;
}

/** Options of one I/O worker. */
export interface IoWorkerOptions {
  /** Requests in flight at once (a power of two); later ones wait in order. Default 64. */
  readonly slots?: number;
  /** Largest request in bytes; larger ones are the caller's to split or route elsewhere. */
  readonly slotBytes?: number;
  /** Microseconds the worker polls for more requests before it sleeps. Default 0. */
  readonly spinUs?: number;
  /**
   * Event-loop turns (setImmediate) that look for completions before the event loop waits for a
   * wake-up from the worker; 0 waits at once. Default 0.
   */
  readonly pollTurns?: number;
}

/** Completion of a slot: bytes or a negative errno, and for OP_COPY the side that failed (0 if none). */
type Settle = (result: number, copyFailed: number) => void;

/** One worker thread doing positional I/O on any fd of this process, in submission order. */
export class IoWorker {
  readonly slotBytes: number;
  private readonly ring: IoRing;
  private readonly worker: Worker;
  private readonly mask: number;
  private readonly free: number[] = [];
  /** Completion callback and read target of each busy slot. */
  private readonly settle: (Settle | undefined)[];
  private readonly targets: (Uint8Array | undefined)[];
  /** Submissions waiting for a free slot, in order. */
  private readonly backlog: (() => void)[] = [];
  private subHead = 0;
  private compTail = 0;
  private inflight = 0;
  private armed = false;
  private readonly pollTurns: number;
  /** Turns polled since the last completion. */
  private idleTurns = 0;
  /**
   * Where the worker wakes the event loop: one message each time it takes back CTRL_MAIN_WAITING.
   * Not Atomics.waitAsync: in served sets on Node 20 its promise at times never settled after the
   * worker's notify, wedging every device on the worker (docs/PERFORMANCE.md, issue 16 round 3).
   */
  private readonly wakePort: MessagePort;
  private polling = false;
  private readonly onPoll = (): void => {
    this.polling = false;
    const before = this.compTail;
    this.drain();
    if (this.compTail !== before) this.idleTurns = 0;
  };
  private draining = false;
  private closed = false;
  private kickQueued = false;
  private readonly kick = (): void => {
    this.kickQueued = false;
    const { ctrl } = this.ring;
    if (Atomics.load(ctrl, CTRL_WORKER_SLEEPING) === 1) Atomics.notify(ctrl, CTRL_SUB_HEAD, 1);
  };
  private readonly onWake = (): void => {
    this.armed = false;
    this.drain();
  };

  constructor(options: IoWorkerOptions = {}) {
    const slots = options.slots ?? 64;
    if (!Number.isInteger(slots) || slots < 1 || (slots & (slots - 1)) !== 0) {
      throw new RangeError(`I/O worker slots ${slots} is not a power of two`);
    }
    this.slotBytes = options.slotBytes ?? 128 * 1024;
    this.mask = slots - 1;
    this.pollTurns = options.pollTurns ?? 0;
    this.ring = ioRing(slots, this.slotBytes);
    this.settle = new Array<Settle | undefined>(slots).fill(undefined);
    this.targets = new Array<Uint8Array | undefined>(slots).fill(undefined);
    for (let i = slots - 1; i >= 0; i--) this.free.push(i);
    const { port1, port2 } = new MessageChannel();
    this.wakePort = port1;
    this.wakePort.on("message", this.onWake);
    // The worker's reference keeps the process alive while requests are in flight, not the port.
    this.wakePort.unref();
    this.worker = new Worker(new URL("./io-worker-thread.js", import.meta.url), {
      workerData: {
        sab: this.ring.sab,
        slots,
        slotBytes: this.slotBytes,
        spinUs: options.spinUs ?? 0,
        wakePort: port2,
      },
      transferList: [port2],
    });
    this.worker.unref();
    // A worker that dies (it should not) must not leave requests waiting forever: they fail with EIO.
    this.worker.on("error", () => undefined);
    this.worker.on("exit", () => this.failAll());
  }

  private failAll(): void {
    this.closed = true;
    this.wakePort.close();
    for (let slot = 0; slot < this.settle.length; slot++) {
      const done = this.settle[slot];
      this.settle[slot] = undefined;
      this.targets[slot] = undefined;
      if (done) done(-5, 0);
    }
    for (const next of this.backlog.splice(0)) next();
    this.inflight = 0;
  }

  /** Requests submitted and not yet completed (including those waiting for a slot). */
  get pending(): number {
    return this.inflight + this.backlog.length;
  }

  /** pread(2) of target.length (<= slotBytes) bytes at `position`; resolves with the bytes read. */
  read(fd: number, position: number, target: Uint8Array): Promise<number> {
    return new Promise((resolve, reject) => {
      this.submit(OP_READ, fd, position, target.length, undefined, target, (n) =>
        n < 0 ? reject(errnoError(n, "read")) : resolve(n),
      );
    });
  }

  /** pwrite(2) of all of `data` (<= slotBytes) at `position`, then fdatasync(2) when `sync`. */
  write(fd: number, position: number, data: Uint8Array, sync: boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      this.submit(sync ? OP_WRITE_SYNC : OP_WRITE, fd, position, data.length, data, undefined, (n) =>
        n < 0 ? reject(errnoError(n, "write")) : resolve(),
      );
    });
  }

  /**
   * Copy `length` bytes (below 2 GiB) of `fromFd` at `fromPosition` to `toFd` at `toPosition` in the
   * worker, a slot's size at a time (pread(2) then pwrite(2)): the bytes never reach the event loop.
   * Rejects with a CopyFailure naming the side that failed (a failed write, or a failed read after
   * the first slot's worth, leaves part of the range written); with a plain EIO error when the worker
   * never ran it (closed, or its thread died); with a RangeError for a bad length.
   */
  copy(
    fromFd: number,
    fromPosition: number,
    toFd: number,
    toPosition: number,
    length: number,
  ): Promise<void> {
    if (!Number.isInteger(length) || length < 0 || length > 0x7fffffff)
      return Promise.reject(new RangeError(`copy of ${length} bytes is not an integer in 0..2^31-1`));
    return new Promise((resolve, reject) => {
      const to = { fd: toFd, position: toPosition };
      this.submit(
        OP_COPY,
        fromFd,
        fromPosition,
        length,
        undefined,
        undefined,
        (n, failed) => {
          if (n >= 0) return resolve();
          // No side recorded: the worker never ran the copy (closed, or its thread died).
          if (failed === 0) return reject(errnoError(n, "copy"));
          const side = failed === COPY_FAILED_WRITE ? "write" : "read";
          reject(new CopyFailure(side, errnoError(n, side)));
        },
        to,
      );
    });
  }

  /** fdatasync(2) after every request submitted before it. */
  sync(fd: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.submit(OP_SYNC, fd, 0, 0, undefined, undefined, (n) =>
        n < 0 ? reject(errnoError(n, "flush")) : resolve(),
      );
    });
  }

  /** Stop the thread once it is idle; requests submitted afterwards fail. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    Atomics.store(this.ring.ctrl, CTRL_STOP, 1);
    Atomics.notify(this.ring.ctrl, CTRL_SUB_HEAD);
    this.wakePort.close();
    await this.worker.terminate();
  }

  private submit(
    op: number,
    fd: number,
    position: number,
    length: number,
    data: Uint8Array | undefined,
    target: Uint8Array | undefined,
    done: Settle,
    copyTo?: CopyDestination,
  ): void {
    if (this.closed) return done(-5, 0);
    if (length > this.slotBytes && op !== OP_COPY)
      throw new RangeError(`I/O request of ${length} bytes exceeds a slot`);
    // Later requests queue behind waiting ones, so the worker still sees them in submission order.
    const slot = this.backlog.length === 0 ? this.free.pop() : undefined;
    if (slot === undefined) {
      this.backlog.push(() =>
        this.place(this.free.pop()!, op, fd, position, length, data, target, done, copyTo),
      );
      return;
    }
    this.place(slot, op, fd, position, length, data, target, done, copyTo);
  }

  private place(
    slot: number,
    op: number,
    fd: number,
    position: number,
    length: number,
    data: Uint8Array | undefined,
    target: Uint8Array | undefined,
    done: Settle,
    copyTo: CopyDestination | undefined,
  ): void {
    if (this.closed) return done(-5, 0);
    const { header, ctrl } = this.ring;
    header[slotWord(slot, SLOT_OP)] = op;
    header[slotWord(slot, SLOT_FD)] = fd;
    header[slotWord(slot, SLOT_LENGTH)] = length;
    header[slotWord(slot, SLOT_COPY_FAILED)] = 0;
    this.ring.position[slot] = position;
    if (copyTo) {
      header[slotWord(slot, SLOT_COPY_FD)] = copyTo.fd;
      this.ring.copyPosition[slot] = copyTo.position;
    }
    if (data) this.ring.data.set(data, slot * this.slotBytes);
    this.settle[slot] = done;
    this.targets[slot] = target;
    this.ring.subRing[this.subHead & this.mask] = slot;
    this.subHead = (this.subHead + 1) | 0;
    Atomics.store(ctrl, CTRL_SUB_HEAD, this.subHead);
    // One wake for the requests of this burst: the check runs once the current microtasks are done.
    if (!this.kickQueued) {
      this.kickQueued = true;
      queueMicrotask(this.kick);
    }
    if (this.inflight++ === 0) this.worker.ref();
    this.arm();
  }

  /** Look for the next completion on a later turn, or wait (without blocking) for a wake-up. */
  private arm(): void {
    if (this.armed || this.polling || this.draining || this.inflight === 0) return;
    if (this.idleTurns++ < this.pollTurns) {
      this.polling = true;
      setImmediate(this.onPoll);
      return;
    }
    this.idleTurns = 0;
    this.armed = true;
    if (!announceWait(this.ring.ctrl, this.compTail)) queueMicrotask(this.onWake);
  }

  private drain(): void {
    const { ctrl, compRing, header, data } = this.ring;
    let head = Atomics.load(ctrl, CTRL_COMP_HEAD);
    this.draining = true;
    while (this.compTail !== head) {
      while (this.compTail !== head) {
        const slot = compRing[this.compTail & this.mask]!;
        this.compTail = (this.compTail + 1) | 0;
        const result = header[slotWord(slot, SLOT_RESULT)]!;
        const copyFailed = header[slotWord(slot, SLOT_COPY_FAILED)]!;
        const target = this.targets[slot];
        if (target && result > 0) {
          const base = slot * this.slotBytes;
          target.set(data.subarray(base, base + result));
        }
        const done = this.settle[slot]!;
        this.settle[slot] = undefined;
        this.targets[slot] = undefined;
        this.free.push(slot);
        if (--this.inflight === 0) this.worker.unref();
        done(result, copyFailed);
        const next = this.backlog.shift();
        if (next) next();
      }
      head = Atomics.load(ctrl, CTRL_COMP_HEAD);
    }
    this.draining = false;
    this.arm();
  }
}
