// Stream adapter used by both ends: queues received bytes, offers awaitable exact reads for the
// handshake and a push callback for transmission, and can hand the socket over (for STARTTLS).
import type { Duplex } from "node:stream";
import { ByteQueue } from "./byte-queue.js";
import { NbdError } from "./errors.js";
import { hasReceiveBuffer, setBorrowedSink, setDirectReads, type DirectReads } from "./receive-buffer.js";

/** The peer went away while we were waiting for bytes. */
export class ConnectionClosedError extends NbdError {
  constructor(reason: string) {
    super("ECONNCLOSED", `connection closed: ${reason}`);
  }
}

/** Bytes a batched writer may leave queued in the stream before it is asked to wait for 'drain'. */
const BATCH_LIMIT_BYTES = 8 * 1024 * 1024;

interface Waiter {
  n: number;
  skip: boolean;
  resolve: (buf: Buffer) => void;
  reject: (err: Error) => void;
}

/** Buffered reader/writer over one stream; `onClose` fires once when the stream ends or fails. */
export class SocketIo {
  readonly queue = new ByteQueue();
  /** Transmission mode: called after each received chunk instead of serving awaitable reads. */
  onReadable: (() => void) | undefined;
  /**
   * Transmission mode: called when the peer half-closes (sends FIN) while the socket stays writable;
   * the owner answers what it received, then ends. Unset, a half-close closes the connection.
   */
  onPeerEnd: (() => void) | undefined;
  /** The peer has sent everything it will send. */
  peerEnded = false;
  closed = false;
  closeReason = "";
  private waiter: Waiter | undefined;
  private corked = false;
  private readonly listeners = {
    data: (chunk: Buffer) => this.onData(chunk),
    borrowed: (chunk: Buffer) => this.onBorrowed(chunk),
    end: () => this.onEnd(),
    close: () => this.markClosed("socket closed"),
    error: (err: Error) => this.markClosed(err.message),
  };

  constructor(
    public stream: Duplex,
    private readonly onClose: (reason: string) => void,
  ) {
    this.attach(stream);
  }

  /** Start reading from `stream` (used again after a STARTTLS upgrade). */
  attach(stream: Duplex): void {
    this.stream = stream;
    if (hasReceiveBuffer(stream)) setBorrowedSink(stream, this.listeners.borrowed);
    else stream.on("data", this.listeners.data);
    stream.on("end", this.listeners.end);
    stream.on("close", this.listeners.close);
    stream.on("error", this.listeners.error);
    stream.resume();
  }

  /**
   * Transmission mode: let reads land straight in `reads.target()` where the stream has a receive
   * buffer (receive-buffer.ts); a stream without one (TLS, tests) keeps delivering chunks.
   */
  setDirectReads(reads: DirectReads | undefined): void {
    if (hasReceiveBuffer(this.stream)) setDirectReads(this.stream, reads);
  }

  /** Stop reading and release the stream (for wrapping it in TLS); queued bytes are returned. */
  detach(): Buffer[] {
    const s = this.stream;
    s.pause();
    s.off("data", this.listeners.data);
    setBorrowedSink(s, undefined);
    setDirectReads(s, undefined);
    s.off("end", this.listeners.end);
    s.off("close", this.listeners.close);
    s.off("error", this.listeners.error);
    return this.queue.drain();
  }

  private onData(chunk: Buffer): void {
    this.queue.push(chunk);
    if (this.onReadable) this.onReadable();
    else this.serveWaiter();
  }

  /** A chunk of a reusable receive buffer: consumed now, the unconsumed rest copied on release. */
  private onBorrowed(chunk: Buffer): void {
    this.queue.pushBorrowed(chunk);
    try {
      if (this.onReadable) this.onReadable();
      else this.serveWaiter();
    } finally {
      this.queue.release();
    }
  }

  private serveWaiter(): void {
    const w = this.waiter;
    if (!w) return;
    if (w.skip) {
      w.n -= this.queue.skip(w.n);
      if (w.n > 0) return;
      this.waiter = undefined;
      w.resolve(Buffer.alloc(0));
    } else if (this.queue.length >= w.n) {
      this.waiter = undefined;
      w.resolve(this.queue.take(w.n));
    }
  }

  private onEnd(): void {
    this.peerEnded = true;
    if (this.onPeerEnd && !this.closed) this.onPeerEnd();
    else this.markClosed("peer closed the connection");
  }

  private markClosed(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.closeReason = reason;
    const w = this.waiter;
    this.waiter = undefined;
    w?.reject(new ConnectionClosedError(reason));
    this.onClose(reason);
  }

  /** Resolve with exactly `n` bytes; rejects with ConnectionClosedError if the stream ends first. */
  readExact(n: number): Promise<Buffer> {
    return this.wait(n, false);
  }

  /** Consume and drop exactly `n` bytes as they arrive (never buffers them). */
  async skipExact(n: number): Promise<void> {
    await this.wait(n, true);
  }

  private wait(n: number, skip: boolean): Promise<Buffer> {
    if (this.closed) return Promise.reject(new ConnectionClosedError(this.closeReason));
    return new Promise((resolve, reject) => {
      this.waiter = { n, skip, resolve, reject };
      this.serveWaiter();
    });
  }

  /** Write one complete frame; returns false when the stream wants the writer to wait for 'drain'. */
  write(buf: Uint8Array): boolean {
    if (this.closed || this.stream.destroyed) return true;
    return this.stream.write(buf);
  }

  /**
   * Write a frame in a batch: frames written during one event-loop turn leave in one writev at the
   * end of the turn (replies completing together cost one syscall). Returns false once more than
   * BATCH_LIMIT_BYTES wait in the stream, which then emits 'drain'. `onWritten` runs once the stream
   * no longer references `buf` (with an error if it was never written). Only for transmission: the
   * handshake must not leave bytes corked before a STARTTLS handover.
   */
  writeBatched(buf: Uint8Array, onWritten?: (err?: Error | null) => void): boolean {
    const s = this.stream;
    if (this.closed || s.destroyed) return true;
    if (!this.corked) {
      this.corked = true;
      s.cork();
      setImmediate(this.uncork);
    }
    return s.write(buf, onWritten) || s.writableLength < BATCH_LIMIT_BYTES;
  }

  private readonly uncork = (): void => {
    this.corked = false;
    this.stream.uncork();
  };

  /** Close the write side after flushing queued frames, and forcibly after `graceMs`. */
  end(graceMs = 5000): void {
    const s = this.stream;
    if (s.destroyed) return;
    s.end();
    const t = setTimeout(() => s.destroy(), graceMs);
    t.unref();
    s.once("close", () => clearTimeout(t));
  }

  /** Close immediately. */
  destroy(): void {
    this.stream.destroy();
    this.markClosed("closed locally");
  }
}
