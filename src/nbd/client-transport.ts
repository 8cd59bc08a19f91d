// One client connection to an NBD server in the transmission phase: sends requests by cookie and
// matches replies (in any order; simple, or structured chunks when negotiated) back to them.
// Reconnection is the device's business.
import { createConnection, type Socket } from "node:net";
import { clientHandshake, type ExportDetails } from "./client-handshake.js";
import { writeRequest } from "./codec.js";
import { NbdProtocolError } from "./errors.js";
import type { NbdTarget } from "./nbd-uri.js";
import {
  Cmd,
  Errno,
  ReplyFlag,
  ReplyType,
  REQUEST_BYTES,
  SIMPLE_REPLY_BYTES,
  SIMPLE_REPLY_MAGIC,
  STRUCTURED_HEADER_BYTES,
  STRUCTURED_REPLY_MAGIC,
} from "./protocol.js";
import { SocketIo } from "./socket-io.js";

/** One request as the transport sends it; `done` receives the reply's errno. */
export interface ClientOp {
  readonly type: number;
  readonly flags: number;
  readonly offsetBytes: number;
  readonly lengthBytes: number;
  /** WRITE payload. */
  readonly payload?: Uint8Array;
  /** READ destination. */
  readonly target?: Uint8Array;
  done(errno: number): void;
}

/** A connected, negotiated client connection. */
export class NbdClientTransport {
  private readonly inFlight = new Map<number, ClientOp>();
  /** First error chunk of a structured reply still open, by cookie. */
  private readonly chunkErrors = new Map<number, number>();
  private lostHandler: ((reason: string) => void) | undefined;
  private lost = false;

  private constructor(
    private readonly io: SocketIo,
    readonly details: ExportDetails,
  ) {
    io.onReadable = () => this.onReadable();
  }

  /** Connect, negotiate the export and enter transmission; rejects on failure or after `timeoutMs`. */
  static async connect(target: NbdTarget, timeoutMs: number): Promise<NbdClientTransport> {
    const socket: Socket =
      target.kind === "unix" ? createConnection(target.path) : createConnection(target.port, target.host);
    socket.setNoDelay(true);
    let transport: NbdClientTransport | undefined;
    const io = new SocketIo(socket, (reason) => transport?.markLost(reason));
    const timer = setTimeout(
      () => socket.destroy(new Error(`connect timed out after ${timeoutMs} ms`)),
      timeoutMs,
    );
    try {
      const details = await clientHandshake(io, {
        exportName: target.exportName,
        ...(target.tls ? { tls: target.tls } : {}),
        ...(target.kind === "tcp" ? { host: target.host } : {}),
      });
      transport = new NbdClientTransport(io, details);
      if (io.closed) transport.markLost(io.closeReason);
      return transport;
    } catch (err) {
      socket.destroy();
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Called once when the connection is lost (not after close()). */
  onLost(handler: (reason: string) => void): void {
    this.lostHandler = handler;
    if (this.lost) handler(this.io.closeReason);
  }

  /** True once the connection is gone. */
  get isLost(): boolean {
    return this.lost;
  }

  /** Send a request with the given cookie (unique among this connection's in-flight requests). */
  send(cookie: number, op: ClientOp): void {
    if (this.lost) return;
    this.inFlight.set(cookie, op);
    const header = Buffer.allocUnsafe(REQUEST_BYTES);
    writeRequest(header, { ...op, cookieHi: 0, cookieLo: cookie });
    const s = this.io.stream as Socket;
    if (op.type === Cmd.WRITE && op.payload && op.payload.length > 0) {
      s.cork();
      this.io.write(header);
      this.io.write(op.payload);
      s.uncork();
    } else this.io.write(header);
  }

  private onReadable(): void {
    const queue = this.io.queue;
    while (!this.lost && queue.length >= 4) {
      const magic = queue.peek(4).readUInt32BE(0);
      if (magic === STRUCTURED_REPLY_MAGIC) {
        if (!this.onChunk()) return;
        continue;
      }
      if (queue.length < SIMPLE_REPLY_BYTES) return;
      const header = queue.peek(SIMPLE_REPLY_BYTES);
      if (magic !== SIMPLE_REPLY_MAGIC) return this.fail(new NbdProtocolError("unexpected reply magic"));
      const errno = header.readUInt32BE(4);
      const cookie = header.readUInt32BE(12);
      const op = header.readUInt32BE(8) === 0 ? this.inFlight.get(cookie) : undefined;
      if (!op) return this.fail(new NbdProtocolError(`reply for unknown cookie ${cookie}`));
      if (op.type === Cmd.READ && errno === 0) {
        if (this.details.structuredReplies) {
          return this.fail(new NbdProtocolError("simple reply to a READ under structured replies"));
        }
        if (queue.length < SIMPLE_REPLY_BYTES + op.lengthBytes) return;
        queue.skip(SIMPLE_REPLY_BYTES);
        queue.takeInto(op.target!);
      } else queue.skip(SIMPLE_REPLY_BYTES);
      this.inFlight.delete(cookie);
      op.done(errno);
    }
  }

  /** Consume one complete structured chunk; false when it has not fully arrived yet. */
  private onChunk(): boolean {
    const queue = this.io.queue;
    if (queue.length < STRUCTURED_HEADER_BYTES) return false;
    const header = queue.peek(STRUCTURED_HEADER_BYTES);
    const flags = header.readUInt16BE(4);
    const type = header.readUInt16BE(6);
    const cookie = header.readUInt32BE(12);
    const length = header.readUInt32BE(16);
    const op = header.readUInt32BE(8) === 0 ? this.inFlight.get(cookie) : undefined;
    if (!op) {
      this.fail(new NbdProtocolError(`structured reply for unknown cookie ${cookie}`));
      return false;
    }
    if (length > op.lengthBytes + 4096) {
      this.fail(
        new NbdProtocolError(`structured chunk of ${length} bytes for a ${op.lengthBytes}-byte request`),
      );
      return false;
    }
    if (queue.length < STRUCTURED_HEADER_BYTES + length) return false;
    queue.skip(STRUCTURED_HEADER_BYTES);
    const payload = queue.take(length);
    if (type === ReplyType.OFFSET_DATA || type === ReplyType.OFFSET_HOLE) {
      const at = payload.readUInt32BE(0) * 2 ** 32 + payload.readUInt32BE(4) - op.offsetBytes;
      const n = type === ReplyType.OFFSET_DATA ? length - 8 : payload.readUInt32BE(8);
      if (op.type !== Cmd.READ || at < 0 || at + n > op.lengthBytes) {
        this.fail(new NbdProtocolError(`structured chunk outside the request (cookie ${cookie})`));
        return false;
      }
      if (type === ReplyType.OFFSET_DATA) payload.copy(op.target!, at, 8);
      else op.target!.fill(0, at, at + n);
    } else if (type & 0x8000) {
      if (!this.chunkErrors.has(cookie))
        this.chunkErrors.set(cookie, length >= 4 ? payload.readUInt32BE(0) : Errno.EIO);
    }
    if (flags & ReplyFlag.DONE) {
      const errno = this.chunkErrors.get(cookie) ?? 0;
      this.chunkErrors.delete(cookie);
      this.inFlight.delete(cookie);
      op.done(errno);
    }
    return true;
  }

  private fail(err: Error): void {
    this.markLost(err.message);
  }

  private markLost(reason: string): void {
    if (this.lost) return;
    this.lost = true;
    this.inFlight.clear();
    this.chunkErrors.clear();
    if (!this.io.stream.destroyed) this.io.stream.destroy();
    this.lostHandler?.(reason);
  }

  /** Send DISC and close; in-flight requests are abandoned (the caller has drained them). */
  close(): void {
    if (this.lost) return;
    this.lostHandler = undefined;
    this.send(0xffffffff, { type: Cmd.DISC, flags: 0, offsetBytes: 0, lengthBytes: 0, done: () => {} });
    this.lost = true;
    this.io.end(1000);
  }
}
