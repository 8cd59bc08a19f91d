// Replies answered while one batch of received requests is processed, built side by side in one
// buffer and written with one socket write: a 4 KiB read answered on the fast path (answer-now)
// is read straight into its place after its reply header, so it costs no buffer of its own, no
// stream write and no completion callback. Replies answered later (the promise path) go out alone.

import { writeSimpleReply } from "./codec.js";
import { SIMPLE_REPLY_BYTES } from "./protocol.js";

/** Bytes of one batch buffer. */
export const REPLY_BATCH_BYTES = 256 * 1024;
/** Largest reply a batch takes; a larger one gets a buffer of its own. */
export const REPLY_BATCH_MAX_REPLY_BYTES = 64 * 1024;
/** Batch buffers kept for reuse once the socket is done with them. */
const SPARE_BUFFERS = 4;

/** The batch of one connection. Not shared between connections. */
export class ReplyBatch {
  private buf: Buffer;
  private used = 0;
  private readonly spare: Buffer[] = [];

  constructor(private readonly bytes = REPLY_BATCH_BYTES) {
    this.buf = Buffer.allocUnsafeSlow(bytes);
  }

  /** Bytes of replies waiting in the batch. */
  get pendingBytes(): number {
    return this.used;
  }

  /** Would a reply of `bytes` go into a batch at all (see reserve)? */
  static takes(bytes: number): boolean {
    return bytes > 0 && bytes <= REPLY_BATCH_MAX_REPLY_BYTES;
  }

  /** Is there room for `bytes` more now (otherwise the caller writes the batch out first)? */
  fits(bytes: number): boolean {
    return this.used + bytes <= this.bytes;
  }

  /**
   * The next `bytes` of the batch, for one reply. The caller fills it, or calls unreserve() at once
   * (before any other reserve) to give it back unused.
   */
  reserve(bytes: number): Buffer {
    if (!this.fits(bytes)) throw new RangeError(`reply of ${bytes} bytes does not fit the batch`);
    const slice = this.buf.subarray(this.used, this.used + bytes);
    this.used += bytes;
    return slice;
  }

  /** Append a simple reply header (one fast WRITE's answer) in place; the caller checked fits(). */
  appendSimpleReply(errno: number, cookieHi: number, cookieLo: number): void {
    if (!this.fits(SIMPLE_REPLY_BYTES)) throw new RangeError("a simple reply does not fit the batch");
    writeSimpleReply(this.buf, errno, cookieHi, cookieLo, this.used);
    this.used += SIMPLE_REPLY_BYTES;
  }

  /** Give back the last reservation of `bytes`, unused. */
  unreserve(bytes: number): void {
    this.used -= bytes;
  }

  /**
   * The replies gathered so far, and a function to call once the socket no longer references them
   * (their buffer is then reused); undefined when the batch is empty. The batch starts afresh.
   */
  take(): { readonly data: Buffer; readonly release: () => void } | undefined {
    if (this.used === 0) return undefined;
    const full = this.buf;
    const data = full.subarray(0, this.used);
    this.buf = this.spare.pop() ?? Buffer.allocUnsafeSlow(this.bytes);
    this.used = 0;
    return {
      data,
      release: () => {
        if (this.spare.length < SPARE_BUFFERS) this.spare.push(full);
      },
    };
  }
}
