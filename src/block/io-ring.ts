// Layout of the shared memory between the event loop and one I/O worker thread (io-worker.ts,
// io-worker-thread.ts): control words, a submission ring, a completion ring, slot headers and data.

/** Operations a worker performs. */
export const OP_READ = 1;
export const OP_WRITE = 2;
/** fdatasync(2). */
export const OP_SYNC = 3;
/** pwrite(2) then fdatasync(2) (FUA). */
export const OP_WRITE_SYNC = 4;
/**
 * pread(2) from SLOT_FD at the slot's position into the slot, then pwrite(2) of it to SLOT_COPY_FD at
 * its copy position: a copy between two files whose bytes never reach the event loop.
 */
export const OP_COPY = 5;

/** Control words (Int32 indexes). */
export const CTRL_SUB_HEAD = 0;
/** 1 while the worker sleeps in Atomics.wait on CTRL_SUB_HEAD: the event loop must notify it. */
export const CTRL_WORKER_SLEEPING = 1;
export const CTRL_COMP_HEAD = 2;
/**
 * 1 while the event loop waits for a wake-up message: the worker that turns it back to 0
 * (compareExchange) owes the event loop exactly one message on the wake port (io-worker.ts).
 */
export const CTRL_MAIN_WAITING = 3;
/** Set to 1 to make the worker exit. */
export const CTRL_STOP = 4;
const CTRL_WORDS = 8;

/**
 * Per-slot header words (Int32): op, fd, length, result (bytes, or a negative errno), and for OP_COPY
 * the destination fd and the side that failed (COPY_FAILED_READ or COPY_FAILED_WRITE).
 */
export const SLOT_OP = 0;
export const SLOT_FD = 1;
export const SLOT_LENGTH = 2;
export const SLOT_RESULT = 3;
export const SLOT_COPY_FD = 4;
export const SLOT_COPY_FAILED = 5;
const SLOT_WORDS = 6;
/** SLOT_COPY_FAILED of a copy whose read failed (the pieces before it were written). */
export const COPY_FAILED_READ = 1;
/** SLOT_COPY_FAILED of a copy whose write failed (the destination range may be partly written). */
export const COPY_FAILED_WRITE = 2;

/** Views over one worker's shared memory. */
export interface IoRing {
  readonly sab: SharedArrayBuffer;
  readonly slots: number;
  readonly slotBytes: number;
  readonly ctrl: Int32Array;
  readonly subRing: Int32Array;
  readonly compRing: Int32Array;
  readonly header: Int32Array;
  /** File position of each slot (float64: positions beyond 2^31). */
  readonly position: Float64Array;
  /** Destination position of each slot's OP_COPY. */
  readonly copyPosition: Float64Array;
  /** Data of slot i: data.subarray(i * slotBytes, (i + 1) * slotBytes). */
  readonly data: Uint8Array;
}

/** Views over `sab` (new memory when omitted) for `slots` slots of `slotBytes` each. */
export function ioRing(slots: number, slotBytes: number, sab?: SharedArrayBuffer): IoRing {
  const intBytes = (CTRL_WORDS + 2 * slots + SLOT_WORDS * slots) * 4;
  const positionOffset = Math.ceil(intBytes / 8) * 8;
  const dataOffset = Math.ceil((positionOffset + 16 * slots) / 4096) * 4096;
  const memory = sab ?? new SharedArrayBuffer(dataOffset + slots * slotBytes);
  let at = 0;
  const ints = (n: number): Int32Array => {
    const view = new Int32Array(memory, at, n);
    at += n * 4;
    return view;
  };
  return {
    sab: memory,
    slots,
    slotBytes,
    ctrl: ints(CTRL_WORDS),
    subRing: ints(slots),
    compRing: ints(slots),
    header: ints(SLOT_WORDS * slots),
    position: new Float64Array(memory, positionOffset, slots),
    copyPosition: new Float64Array(memory, positionOffset + 8 * slots, slots),
    data: new Uint8Array(memory, dataOffset, slots * slotBytes),
  };
}

/** Index of slot `slot`'s word `word` in IoRing.header. */
export function slotWord(slot: number, word: number): number {
  return slot * SLOT_WORDS + word;
}

/** Called between the atomic steps of the wake protocol; tests use it to force an interleaving. */
export type StepHook = (step: number) => void;

/**
 * Event-loop side: announce a wait for completions past `compTail`. True when a wake-up message is
 * owed (the worker takes CTRL_MAIN_WAITING back, or already has); false when completions arrived
 * meanwhile and the flag was taken back here: nobody sends a message, the caller drains at once.
 * Each side stores before it looks (sequentially consistent), so at least one sees the other.
 */
export function announceWait(ctrl: Int32Array, compTail: number, hook?: StepHook): boolean {
  Atomics.store(ctrl, CTRL_MAIN_WAITING, 1);
  hook?.(1);
  if (Atomics.load(ctrl, CTRL_COMP_HEAD) === compTail) return true;
  hook?.(2);
  return Atomics.compareExchange(ctrl, CTRL_MAIN_WAITING, 1, 0) !== 1;
}

/**
 * Worker side: publish completions up to `compHead`. True when the event loop announced a wait
 * and this call took the flag back: the caller owes it exactly one wake-up message.
 */
export function publishCompletions(ctrl: Int32Array, compHead: number, hook?: StepHook): boolean {
  Atomics.store(ctrl, CTRL_COMP_HEAD, compHead);
  hook?.(1);
  return Atomics.compareExchange(ctrl, CTRL_MAIN_WAITING, 1, 0) === 1;
}
