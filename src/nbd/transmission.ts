// Transmission phase of one server connection: framing, request validation (the one place),
// execution against the export's device, and replies (out of order; one write per reply, or per pump
// for the replies of requests the device answered at once).
import { performance } from "node:perf_hooks";
import { tryReadNow, tryWriteNow } from "../block/answer-now.js";
import type { BlockDevice } from "../block/block-device.js";
import { REQUEST_OPS, RequestTimes, type RequestTimesObserver } from "../core/request-times.js";
import {
  decodeRequest,
  encodeErrorChunkPayload,
  writeSimpleReply,
  writeStructuredHeader,
  type NbdRequest,
} from "./codec.js";
import { toNbdErrno, type RequestKind } from "./errno.js";
import type { NbdExport } from "./export-info.js";
import type { NbdLogger } from "./logger.js";
import {
  BASE_ALLOCATION_ID,
  Cmd,
  CmdFlag,
  Errno,
  errnoName,
  MAX_PAYLOAD_BYTES,
  OFFSET_DATA_PREFIX_BYTES,
  ReplyFlag,
  ReplyType,
  REQUEST_BYTES,
  REQUEST_MAGIC,
  SIMPLE_REPLY_BYTES,
  STRUCTURED_HEADER_BYTES,
} from "./protocol.js";
import { IoBuffers } from "./io-buffers.js";
import { ReplyBatch } from "./reply-batch.js";
import type { SocketIo } from "./socket-io.js";

/** Largest piece a TRIM / WRITE_ZEROES is split into before reaching the device. */
export const SPLIT_BYTES = 64 * 1024 * 1024;

/**
 * A WRITE payload with at least this much still to arrive is read straight into its buffer
 * (receive-buffer.ts, DirectReads) instead of through the receive buffer and a copy.
 */
export const DIRECT_READ_MIN_BYTES = 64 * 1024;

/** Settings of one connection's transmission phase. */
export interface TransmissionOptions {
  readonly export: NbdExport;
  readonly structuredReplies: boolean;
  readonly baseAllocation: boolean;
  readonly maxInFlight: number;
  readonly maxInFlightBytes: number;
  readonly requestDeadlineMs: number;
  readonly logger: NbdLogger;
  /** Fields added to log lines (connection id, peer). */
  readonly logFields: Record<string, unknown>;
}

/** Counters of one connection. */
export interface TransmissionStats {
  requests: number;
  errors: number;
  bytesRead: number;
  bytesWritten: number;
  /** WRITE payload bytes read from the socket straight into their buffer (no copy). */
  directBytes: number;
  deadlineExpired: number;
}

interface Pending {
  readonly req: NbdRequest;
  /** performance.now() at dispatch: the request's deadline and its observed duration start here. */
  readonly startedMs: number;
  readonly bytes: number;
  answered: boolean;
}

const KIND: RequestKind[] = ["read", "write", "cache", "flush", "trim", "cache", "zero", "status"];
/** The observed operation code (REQUEST_OPS index) of each command's kind; -1: not observed. */
const OBSERVED_OP = KIND.map((kind) => (REQUEST_OPS as readonly string[]).indexOf(kind));
const ALLOWED_FLAGS: number[] = [
  CmdFlag.DF, // READ
  CmdFlag.FUA, // WRITE
  0, // DISC
  0, // FLUSH
  CmdFlag.FUA, // TRIM
  0, // CACHE
  CmdFlag.FUA | CmdFlag.NO_HOLE | CmdFlag.FAST_ZERO, // WRITE_ZEROES
  CmdFlag.REQ_ONE, // BLOCK_STATUS
];

/** Runs the transmission phase on `io` until DISC, shutdown or connection loss. */
export class Transmission {
  readonly stats: TransmissionStats = {
    requests: 0,
    errors: 0,
    bytesRead: 0,
    bytesWritten: 0,
    directBytes: 0,
    deadlineExpired: 0,
  };
  /** Resolves when the connection is done (closed, or ended after DISC / shutdown). */
  readonly finished: Promise<void>;
  private readonly device: BlockDevice;
  private readonly observer: RequestTimesObserver | undefined;
  /** Durations gathered for the observer, handed over at the end of each pump (or when full). */
  private readonly times = new RequestTimes();
  private observerFailed = false;
  private readonly inFlight = new Set<Pending>();
  private inFlightBytes = 0;
  private discardBytes = 0;
  private writeBlocked = false;
  private readingPaused = false;
  private ending = false;
  private shuttingDown = false;
  private resolveFinished!: () => void;
  private readonly sweepTimer: NodeJS.Timeout;
  private readonly buffers = new IoBuffers();
  /** Replies of fast-path answers (answer-now), written once per pump (reply-batch.ts). */
  private readonly batch = new ReplyBatch();
  /** A WRITE whose header was read and whose payload is still arriving. */
  private partialWrite: { readonly req: NbdRequest; readonly payload: Buffer; filled: number } | undefined;

  constructor(
    private readonly io: SocketIo,
    private readonly opts: TransmissionOptions,
  ) {
    this.device = opts.export.device;
    this.observer = opts.export.observe;
    this.finished = new Promise((resolve) => (this.resolveFinished = resolve));
    io.onReadable = () => this.pump();
    io.setDirectReads({
      target: () => this.directTarget(),
      filled: (target, nread) => this.directFilled(target, nread),
    });
    // A client that half-closes after its last request still gets every answer, then the close.
    io.onPeerEnd = () => {
      this.pump();
      this.maybeEnd();
    };
    io.stream.on("drain", () => {
      this.writeBlocked = false;
      this.pump();
      this.maybeEnd();
    });
    const sweepMs = Math.max(10, Math.min(1000, opts.requestDeadlineMs / 4));
    this.sweepTimer = setInterval(() => this.sweepDeadlines(), sweepMs);
    this.sweepTimer.unref();
    this.pump();
  }

  /** The connection closed underneath us: stop timers; late device results are dropped. */
  onClosed(): void {
    clearInterval(this.sweepTimer);
    this.resolveFinished();
  }

  /** Graceful stop: answer in-flight requests, refuse new ones with ESHUTDOWN, then close. */
  shutdown(): Promise<void> {
    this.shuttingDown = true;
    this.maybeEnd();
    return this.finished;
  }

  private canAccept(): boolean {
    const n = this.inFlight.size;
    return (
      !this.writeBlocked &&
      n < this.opts.maxInFlight &&
      (n === 0 || this.inFlightBytes < this.opts.maxInFlightBytes)
    );
  }

  /** Decode and dispatch every complete request in the receive queue, honouring the bounds. */
  private pump(): void {
    const queue = this.io.queue;
    while (!this.io.closed) {
      if (this.discardBytes > 0) {
        this.discardBytes -= queue.skip(this.discardBytes);
        if (this.discardBytes > 0) break;
      }
      if (this.ending) {
        queue.clear();
        this.partialWrite = undefined;
        break;
      }
      if (this.partialWrite && !this.fillPartialWrite()) break;
      if (!this.canAccept()) {
        this.flushBatch();
        this.setPaused(true);
        return;
      }
      if (queue.length < REQUEST_BYTES) break;
      const at = queue.frame(REQUEST_BYTES);
      if (queue.frameChunk.readUInt32BE(at) !== REQUEST_MAGIC) {
        this.opts.logger.warn("nbd protocol error: bad request magic; closing", this.opts.logFields);
        this.io.destroy();
        return;
      }
      const req = decodeRequest(queue.frameChunk, at);
      if (req.type === Cmd.WRITE) {
        if (req.lengthBytes > MAX_PAYLOAD_BYTES) {
          queue.skip(REQUEST_BYTES);
          this.discardBytes = req.lengthBytes;
          this.answerError(req, Errno.EINVAL, `write of ${req.lengthBytes} bytes exceeds the maximum`);
          continue;
        }
        queue.skip(REQUEST_BYTES);
        // A payload already received whole in one chunk is offered to the fast path where it lies.
        const inPlace = queue.length >= req.lengthBytes ? queue.contiguous(req.lengthBytes) : undefined;
        if (inPlace) {
          this.dispatch(req, inPlace, true);
          queue.skip(req.lengthBytes);
          continue;
        }
        // The payload is copied into a pooled buffer as it arrives (no per-read buffer is kept).
        this.partialWrite = { req, payload: this.buffers.takePayload(req.lengthBytes), filled: 0 };
        if (!this.fillPartialWrite()) break;
        continue;
      }
      queue.skip(REQUEST_BYTES);
      this.dispatch(req, undefined);
    }
    this.flushBatch();
    this.setPaused(false);
  }

  /**
   * Write the replies gathered in the batch (one socket write) and hand the durations of their
   * requests to the observer; called at the end of each pump.
   */
  private flushBatch(): void {
    if (this.times.count > 0) this.handOverTimes();
    const out = this.batch.take();
    if (!out) return;
    if (!this.io.writeBatched(out.data, out.release)) {
      this.writeBlocked = true;
      this.setPaused(true);
    }
  }

  /** Move received bytes into the pending WRITE's payload; dispatch it once complete. */
  private fillPartialWrite(): boolean {
    const p = this.partialWrite!;
    const n = Math.min(this.io.queue.length, p.payload.length - p.filled);
    if (n > 0) {
      this.io.queue.takeInto(p.payload.subarray(p.filled, p.filled + n));
      p.filled += n;
    }
    if (p.filled < p.payload.length) return false;
    this.partialWrite = undefined;
    this.dispatch(p.req, p.payload);
    return true;
  }

  /**
   * Where the next socket read may land: the unfilled rest of the pending WRITE's payload when at
   * least DIRECT_READ_MIN_BYTES of it are still to come and nothing received waits in the queue
   * (those bytes come first). Smaller rests go through the receive buffer, where one read also
   * brings the requests behind them.
   */
  private directTarget(): Uint8Array | undefined {
    const p = this.partialWrite;
    if (p === undefined || this.ending || this.io.closed || this.io.queue.length > 0) return undefined;
    if (p.payload.length - p.filled < DIRECT_READ_MIN_BYTES) return undefined;
    return p.payload.subarray(p.filled);
  }

  /** A read landed in the memory directTarget() named: count it; dispatch the WRITE once whole. */
  private directFilled(target: Uint8Array, nread: number): void {
    const p = this.partialWrite;
    // The WRITE was dropped meanwhile (the connection is ending): the bytes are not needed.
    if (
      p === undefined ||
      target.byteOffset !== p.payload.byteOffset + p.filled ||
      target.buffer !== p.payload.buffer
    )
      return;
    p.filled += nread;
    this.stats.directBytes += nread;
    if (p.filled === p.payload.length) this.pump();
  }

  private setPaused(paused: boolean): void {
    if (paused === this.readingPaused || this.io.closed) return;
    this.readingPaused = paused;
    if (paused) this.io.stream.pause();
    else this.io.stream.resume();
  }

  /**
   * Run one request. A `borrowed` payload is a view of the receive queue, valid only until this call
   * returns: the fast path may write from it, anything else gets a pooled copy first.
   */
  private dispatch(req: NbdRequest, payload: Buffer | undefined, borrowed = false): void {
    this.stats.requests++;
    if (req.type === Cmd.DISC) {
      this.ending = true;
      this.io.queue.clear();
      this.maybeEnd();
      return;
    }
    if (this.shuttingDown) return this.answerError(req, Errno.ESHUTDOWN, "server is shutting down");
    const invalid = this.validate(req);
    if (invalid !== 0) return this.answerError(req, invalid, `${errnoName(invalid)}: request rejected`);
    if (req.type === Cmd.READ && this.readNow(req)) return;
    if (req.type === Cmd.WRITE && (req.flags & CmdFlag.FUA) === 0 && this.writeNow(req, payload!, borrowed))
      return;
    if (borrowed && payload) {
      const own = this.buffers.takePayload(payload.length);
      own.set(payload);
      payload = own;
    }
    const bytes = req.type === Cmd.READ || req.type === Cmd.WRITE ? req.lengthBytes : 0;
    const pending: Pending = { req, startedMs: performance.now(), bytes, answered: false };
    this.inFlight.add(pending);
    this.inFlightBytes += bytes;
    this.execute(req, payload).then(
      (reply) => this.complete(pending, reply),
      (err: unknown) => this.fail(pending, err),
    );
  }

  /** The one validation of a request; returns 0 or the errno to answer with. */
  private validate(req: NbdRequest): number {
    const { type, flags, offsetBytes, lengthBytes } = req;
    const allowed = ALLOWED_FLAGS[type];
    if (allowed === undefined) return Errno.EINVAL;
    if (flags & ~allowed) return Errno.EINVAL;
    if (flags & CmdFlag.DF && !this.opts.structuredReplies) return Errno.EINVAL;
    const caps = this.device.capabilities;
    const writes = type === Cmd.WRITE || type === Cmd.TRIM || type === Cmd.WRITE_ZEROES;
    if (writes && caps.readOnly) return Errno.EPERM;
    if (type === Cmd.FLUSH) return 0;
    if (type === Cmd.READ && lengthBytes > MAX_PAYLOAD_BYTES) return Errno.EINVAL;
    if (offsetBytes + lengthBytes > this.device.sizeBytes) {
      return type === Cmd.WRITE || type === Cmd.WRITE_ZEROES ? Errno.ENOSPC : Errno.EINVAL;
    }
    if (type === Cmd.BLOCK_STATUS && (!this.opts.baseAllocation || lengthBytes === 0)) return Errno.EINVAL;
    if (type === Cmd.TRIM && !caps.trim) return Errno.EINVAL;
    if (type === Cmd.WRITE_ZEROES && flags & CmdFlag.FAST_ZERO && !caps.writeZeroes) return Errno.ENOTSUP;
    return 0;
  }

  /** Run a validated request; resolves with a complete reply buffer for READ / BLOCK_STATUS. */
  private async execute(req: NbdRequest, payload: Buffer | undefined): Promise<Buffer | undefined> {
    const dev = this.device;
    const { offsetBytes: offset, lengthBytes: length, flags } = req;
    switch (req.type) {
      case Cmd.READ:
        return this.executeRead(req);
      case Cmd.WRITE:
        await dev.write(offset, payload!, { fua: (flags & CmdFlag.FUA) !== 0 });
        this.stats.bytesWritten += length;
        // The device has consumed the payload (BlockDevice contract), so a pooled one can be reused.
        this.buffers.recyclePayload(payload!);
        return undefined;
      case Cmd.FLUSH:
        await dev.flush();
        return undefined;
      case Cmd.TRIM:
        for (let at = offset; at < offset + length; at += SPLIT_BYTES) {
          await dev.trim(at, Math.min(SPLIT_BYTES, offset + length - at));
        }
        if (flags & CmdFlag.FUA) await dev.flush();
        return undefined;
      case Cmd.WRITE_ZEROES: {
        const options = { fua: (flags & CmdFlag.FUA) !== 0, mayTrim: (flags & CmdFlag.NO_HOLE) === 0 };
        for (let at = offset; at < offset + length; at += SPLIT_BYTES) {
          await dev.writeZeroes(at, Math.min(SPLIT_BYTES, offset + length - at), options);
        }
        return undefined;
      }
      case Cmd.CACHE:
        return undefined;
      default:
        return this.blockStatusReply(req);
    }
  }

  /**
   * A READ the device answers synchronously (answer-now.ts), read straight into its reply in the
   * batch (a large one into a reply buffer of its own); false when the device did not answer (the
   * request then runs through execute() as usual).
   */
  private readNow(req: NbdRequest): boolean {
    const length = req.lengthBytes;
    if (length === 0) return false;
    const prefix = this.opts.structuredReplies
      ? STRUCTURED_HEADER_BYTES + OFFSET_DATA_PREFIX_BYTES
      : SIMPLE_REPLY_BYTES;
    const bytes = prefix + length;
    const batched = ReplyBatch.takes(bytes);
    if (batched && !this.batch.fits(bytes)) this.flushBatch();
    const buf = batched ? this.batch.reserve(bytes) : this.buffers.takePayload(bytes);
    const startedMs = this.observer ? performance.now() : 0;
    let done: boolean;
    try {
      done = tryReadNow(this.device, req.offsetBytes, buf.subarray(prefix));
    } catch (err) {
      // Only a layer's own bug gets here (a fast path reports failures by refusing): answered as failed.
      this.giveBackRead(buf, batched);
      this.answerFailure(req, err);
      return true;
    }
    if (!done) {
      this.giveBackRead(buf, batched);
      return false;
    }
    if (this.observer) this.observed(Cmd.READ, startedMs);
    if (this.opts.structuredReplies) this.writeOffsetDataHeader(buf, req);
    else writeSimpleReply(buf, 0, req.cookieHi, req.cookieLo);
    this.stats.bytesRead += length;
    if (!batched) this.send(buf, true);
    return true;
  }

  /** Give back the reply buffer of a READ the device did not answer now: its batch room or its buffer. */
  private giveBackRead(buf: Buffer, batched: boolean): void {
    if (batched) this.batch.unreserve(buf.length);
    else this.buffers.recyclePayload(buf);
  }

  /** A WRITE (no FUA) the device completes synchronously, replied at once; false when it did not. */
  private writeNow(req: NbdRequest, payload: Buffer, borrowed: boolean): boolean {
    const startedMs = this.observer ? performance.now() : 0;
    let done: boolean;
    try {
      done = tryWriteNow(this.device, req.offsetBytes, payload);
    } catch (err) {
      this.answerFailure(req, err);
      return true;
    }
    if (!done) return false;
    if (this.observer) this.observed(Cmd.WRITE, startedMs);
    this.stats.bytesWritten += req.lengthBytes;
    if (!borrowed) this.buffers.recyclePayload(payload);
    if (!this.batch.fits(SIMPLE_REPLY_BYTES)) this.flushBatch();
    this.batch.appendSimpleReply(0, req.cookieHi, req.cookieLo);
    return true;
  }

  private async executeRead(req: NbdRequest): Promise<Buffer> {
    const length = req.lengthBytes;
    if (!this.opts.structuredReplies) {
      const buf = this.buffers.takePayload(SIMPLE_REPLY_BYTES + length);
      await this.device.read(req.offsetBytes, buf.subarray(SIMPLE_REPLY_BYTES));
      writeSimpleReply(buf, 0, req.cookieHi, req.cookieLo);
      this.stats.bytesRead += length;
      return buf;
    }
    if (length === 0) return this.structured(req, ReplyType.NONE, 0);
    const prefix = STRUCTURED_HEADER_BYTES + OFFSET_DATA_PREFIX_BYTES;
    const buf = this.buffers.takePayload(prefix + length);
    await this.device.read(req.offsetBytes, buf.subarray(prefix));
    this.writeOffsetDataHeader(buf, req);
    this.stats.bytesRead += length;
    return buf;
  }

  /** The header of a final OFFSET_DATA chunk carrying all of `req`'s data. */
  private writeOffsetDataHeader(buf: Buffer, req: NbdRequest): void {
    const { cookieHi, cookieLo, offsetBytes, lengthBytes } = req;
    writeStructuredHeader(buf, ReplyFlag.DONE, ReplyType.OFFSET_DATA, cookieHi, cookieLo, 8 + lengthBytes);
    buf.writeUInt32BE(Math.floor(offsetBytes / 2 ** 32), STRUCTURED_HEADER_BYTES);
    buf.writeUInt32BE(offsetBytes % 2 ** 32, STRUCTURED_HEADER_BYTES + 4);
  }

  /** base:allocation: everything is data (we do not track holes), one extent for the whole range. */
  private blockStatusReply(req: NbdRequest): Buffer {
    const buf = this.structured(req, ReplyType.BLOCK_STATUS, 12);
    buf.writeUInt32BE(BASE_ALLOCATION_ID, STRUCTURED_HEADER_BYTES);
    buf.writeUInt32BE(req.lengthBytes, STRUCTURED_HEADER_BYTES + 4);
    buf.writeUInt32BE(0, STRUCTURED_HEADER_BYTES + 8);
    return buf;
  }

  /** A final (DONE) structured chunk with room for `payloadBytes` after the header. */
  private structured(req: NbdRequest, type: number, payloadBytes: number): Buffer {
    const buf = Buffer.allocUnsafe(STRUCTURED_HEADER_BYTES + payloadBytes);
    writeStructuredHeader(buf, ReplyFlag.DONE, type, req.cookieHi, req.cookieLo, payloadBytes);
    return buf;
  }

  private settle(pending: Pending): boolean {
    if (pending.answered) return false;
    pending.answered = true;
    this.inFlight.delete(pending);
    this.inFlightBytes -= pending.bytes;
    return true;
  }

  private complete(pending: Pending, reply: Buffer | undefined): void {
    if (this.observer) {
      this.observed(pending.req.type, pending.startedMs);
      this.handOverTimes();
    }
    if (!this.settle(pending)) return;
    // READ data replies come from the payload pool and go back once the socket has taken them.
    if (reply) this.send(reply, pending.req.type === Cmd.READ && pending.req.lengthBytes > 0);
    else {
      const buf = this.buffers.take(SIMPLE_REPLY_BYTES);
      writeSimpleReply(buf, 0, pending.req.cookieHi, pending.req.cookieLo);
      this.send(buf);
    }
    this.afterSettle();
  }

  private fail(pending: Pending, err: unknown): void {
    if (this.observer) {
      this.observed(pending.req.type, pending.startedMs);
      this.handOverTimes();
    }
    if (!this.settle(pending)) return;
    this.answerFailure(pending.req, err);
    this.afterSettle();
  }

  /** Answer `req` with the errno its failure maps to. */
  private answerFailure(req: NbdRequest, err: unknown): void {
    const errno = toNbdErrno(err, KIND[req.type] ?? "read", {
      error: (message, fields) => this.opts.logger.error(message, { ...this.opts.logFields, ...fields }),
    });
    this.answerError(req, errno, err instanceof Error ? err.message : String(err));
  }

  /** Record the duration of a request of `type` the device finished (late ones included). */
  private observed(type: number, startedMs: number): void {
    const op = OBSERVED_OP[type]!;
    if (op >= 0 && this.times.add(op, (performance.now() - startedMs) / 1000)) this.handOverTimes();
  }

  /**
   * Give the recorded durations to the export's observer. A throwing observer never fails a request;
   * it is logged once per connection.
   */
  private handOverTimes(): void {
    const times = this.times;
    if (times.count === 0) return;
    try {
      this.observer!(times);
    } catch (err) {
      if (!this.observerFailed) {
        this.observerFailed = true;
        this.opts.logger.warn("request observer failed", { ...this.opts.logFields, err: String(err) });
      }
    }
    times.clear();
  }

  private afterSettle(): void {
    if (this.readingPaused || this.io.queue.length > 0) this.pump();
    this.maybeEnd();
  }

  /** Error reply: an ERROR chunk for READ/BLOCK_STATUS under structured replies, else a simple reply. */
  private answerError(req: NbdRequest, errno: number, message: string): void {
    this.stats.errors++;
    if (this.opts.structuredReplies && (req.type === Cmd.READ || req.type === Cmd.BLOCK_STATUS)) {
      const payload = encodeErrorChunkPayload(errno, message);
      const buf = this.structured(req, ReplyType.ERROR, payload.length);
      payload.copy(buf, STRUCTURED_HEADER_BYTES);
      this.send(buf);
    } else {
      const buf = Buffer.allocUnsafe(SIMPLE_REPLY_BYTES);
      writeSimpleReply(buf, errno, req.cookieHi, req.cookieLo);
      this.send(buf);
    }
  }

  /** Queue a reply; with `recycle`, its buffer goes back to the pool once the socket took it. */
  private send(buf: Buffer, recycle = false): void {
    const done = recycle ? (err?: Error | null) => err || this.buffers.recyclePayload(buf) : undefined;
    if (!this.io.writeBatched(buf, done)) {
      this.writeBlocked = true;
      this.setPaused(true);
    }
  }

  private sweepDeadlines(): void {
    const now = performance.now();
    let expired = 0;
    for (const pending of this.inFlight) {
      if (now - pending.startedMs < this.opts.requestDeadlineMs) continue;
      this.settle(pending);
      expired++;
      this.stats.deadlineExpired++;
      this.opts.logger.warn("nbd request deadline exceeded; answered EIO", {
        ...this.opts.logFields,
        type: pending.req.type,
        offsetBytes: pending.req.offsetBytes,
        lengthBytes: pending.req.lengthBytes,
      });
      this.answerError(pending.req, Errno.EIO, "request deadline exceeded");
    }
    if (expired > 0) this.afterSettle();
  }

  private maybeEnd(): void {
    const done = this.ending || this.shuttingDown || (this.io.peerEnded && !this.writeBlocked);
    if (done && this.inFlight.size === 0 && !this.io.closed) {
      this.flushBatch();
      this.ending = true;
      this.io.end();
    }
  }
}
