// Body of one I/O worker thread: takes slots from the submission ring in order, does the positional
// I/O synchronously on the fd named in the slot, and posts the slot to the completion ring.
import fs from "node:fs";
import { workerData, type MessagePort } from "node:worker_threads";
import {
  CTRL_STOP,
  CTRL_SUB_HEAD,
  CTRL_WORKER_SLEEPING,
  ioRing,
  COPY_FAILED_READ,
  COPY_FAILED_WRITE,
  OP_COPY,
  OP_READ,
  OP_SYNC,
  OP_WRITE,
  OP_WRITE_SYNC,
  publishCompletions,
  SLOT_COPY_FAILED,
  SLOT_COPY_FD,
  SLOT_FD,
  SLOT_LENGTH,
  SLOT_OP,
  SLOT_RESULT,
  slotWord,
  type IoRing,
} from "./io-ring.js";

interface WorkerInit {
  readonly sab: SharedArrayBuffer;
  readonly slots: number;
  readonly slotBytes: number;
  /** Microseconds to poll for the next request before sleeping (saves a futex wake under load). */
  readonly spinUs: number;
  /** Where the event loop waits for wake-ups (io-worker.ts). */
  readonly wakePort: MessagePort;
}

/** The negative errno of a failed fs call (-5 = EIO when the error carries none). */
function errnoOf(err: unknown): number {
  const errno = (err as NodeJS.ErrnoException).errno;
  return typeof errno === "number" && errno < 0 ? errno : -5;
}

/**
 * OP_COPY: the range in pieces of the slot's size (the same buffer, which stays in the CPU caches),
 * each read whole (a short read is EIO: a spare's range exists) and then written; a failure names
 * its side in SLOT_COPY_FAILED.
 */
function copy(ring: IoRing, slot: number, fd: number, length: number, position: number): number {
  const h = ring.header;
  const base = slot * ring.slotBytes;
  const to = h[slotWord(slot, SLOT_COPY_FD)]!;
  const at = ring.copyPosition[slot]!;
  for (let off = 0; off < length; off += ring.slotBytes) {
    const piece = Math.min(ring.slotBytes, length - off);
    let done = 0;
    try {
      while (done < piece) {
        const n = fs.readSync(fd, ring.data, base + done, piece - done, position + off + done);
        if (n === 0) {
          h[slotWord(slot, SLOT_COPY_FAILED)] = COPY_FAILED_READ;
          return -5;
        }
        done += n;
      }
    } catch (err) {
      h[slotWord(slot, SLOT_COPY_FAILED)] = COPY_FAILED_READ;
      return errnoOf(err);
    }
    done = 0;
    try {
      while (done < piece) done += fs.writeSync(to, ring.data, base + done, piece - done, at + off + done);
    } catch (err) {
      h[slotWord(slot, SLOT_COPY_FAILED)] = COPY_FAILED_WRITE;
      return errnoOf(err);
    }
  }
  return length;
}

/** Bytes transferred, or a negative errno (-5 = EIO when the error carries none). */
function perform(ring: IoRing, slot: number): number {
  const h = ring.header;
  const op = h[slotWord(slot, SLOT_OP)]!;
  const fd = h[slotWord(slot, SLOT_FD)]!;
  const length = h[slotWord(slot, SLOT_LENGTH)]!;
  const position = ring.position[slot]!;
  const base = slot * ring.slotBytes;
  if (op === OP_COPY) return copy(ring, slot, fd, length, position);
  try {
    if (op === OP_READ) {
      let done = 0;
      while (done < length) {
        const n = fs.readSync(fd, ring.data, base + done, length - done, position + done);
        if (n === 0) break;
        done += n;
      }
      return done;
    }
    if (op === OP_WRITE || op === OP_WRITE_SYNC) {
      let done = 0;
      while (done < length) done += fs.writeSync(fd, ring.data, base + done, length - done, position + done);
      if (op === OP_WRITE_SYNC) fs.fdatasyncSync(fd);
      return done;
    }
    if (op === OP_SYNC) {
      fs.fdatasyncSync(fd);
      return 0;
    }
    return -22;
  } catch (err) {
    return errnoOf(err);
  }
}

/** Poll the submission ring for up to `spinUs`; true when a request arrived. */
function spin(ctrl: Int32Array, tail: number, spinUs: number): boolean {
  if (spinUs <= 0) return false;
  const until = performance.now() + spinUs / 1000;
  for (let i = 1; ; i++) {
    if (Atomics.load(ctrl, CTRL_SUB_HEAD) !== tail) return true;
    if ((i & 63) === 0 && performance.now() > until) return false;
  }
}

function serve(ring: IoRing, spinUs: number, wakePort: MessagePort): void {
  const { ctrl, subRing, compRing } = ring;
  // Counters wrap at 2^32; slots is a power of two, so the masked index stays continuous.
  const mask = ring.slots - 1;
  let tail = 0;
  let compHead = 0;
  for (;;) {
    while (Atomics.load(ctrl, CTRL_SUB_HEAD) === tail && !spin(ctrl, tail, spinUs)) {
      if (Atomics.load(ctrl, CTRL_STOP) === 1) return;
      // Announce the sleep before the last look, so a submission after it always notifies.
      Atomics.store(ctrl, CTRL_WORKER_SLEEPING, 1);
      if (Atomics.load(ctrl, CTRL_SUB_HEAD) === tail && Atomics.load(ctrl, CTRL_STOP) === 0) {
        Atomics.wait(ctrl, CTRL_SUB_HEAD, tail);
      }
      Atomics.store(ctrl, CTRL_WORKER_SLEEPING, 0);
    }
    const slot = subRing[tail & mask]!;
    tail = (tail + 1) | 0;
    ring.header[slotWord(slot, SLOT_RESULT)] = perform(ring, slot);
    compRing[compHead & mask] = slot;
    compHead = (compHead + 1) | 0;
    // One wake per batch: only when the event loop has gone to wait since it last drained.
    if (publishCompletions(ctrl, compHead)) wakePort.postMessage(null);
  }
}

const init = workerData as WorkerInit;
serve(ioRing(init.slots, init.slotBytes, init.sab), init.spinUs, init.wakePort);
