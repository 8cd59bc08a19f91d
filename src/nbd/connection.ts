// One server connection: handshake, then transmission; logs one line when it opens and one when it closes.
import type { Socket } from "node:net";
import { serverHandshake, type HandshakeContext, type HandshakeResult } from "./handshake.js";
import type { NbdLogger } from "./logger.js";
import { SocketIo } from "./socket-io.js";
import { Transmission } from "./transmission.js";

/** Per-connection limits, shared by all connections of a server. */
export interface ConnectionLimits {
  readonly maxInFlight: number;
  readonly maxInFlightBytes: number;
  readonly requestDeadlineMs: number;
  readonly handshakeTimeoutMs: number;
}

/** A client connection from accept to close. */
export class NbdConnection {
  /** Resolves when the socket has closed. */
  readonly closed: Promise<void>;
  private readonly io: SocketIo;
  private transmission: Transmission | undefined;
  private chosen: HandshakeResult | undefined;
  private resolveClosed!: () => void;
  private readonly openedMs = Date.now();
  private endReason = "";

  constructor(
    socket: Socket,
    readonly id: number,
    private readonly ctx: HandshakeContext,
    private readonly limits: ConnectionLimits,
    private readonly logger: NbdLogger,
  ) {
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    this.io = new SocketIo(socket, (reason) => this.onClose(reason));
    const peer = socket.remoteAddress ? `${socket.remoteAddress}:${socket.remotePort}` : "unix";
    logger.info("nbd connection opened", { conn: id, peer });
    void this.run(peer);
  }

  private async run(peer: string): Promise<void> {
    const timer = setTimeout(() => {
      this.endReason = "handshake timed out";
      this.io.destroy();
    }, this.limits.handshakeTimeoutMs);
    timer.unref();
    try {
      this.chosen = await serverHandshake(this.io, this.ctx);
    } catch (err) {
      this.endReason ||= err instanceof Error ? err.message : String(err);
      this.io.end(1000);
      return;
    } finally {
      clearTimeout(timer);
    }
    if (this.io.closed) return;
    this.transmission = new Transmission(this.io, {
      export: this.chosen.export,
      structuredReplies: this.chosen.structuredReplies,
      baseAllocation: this.chosen.baseAllocation,
      maxInFlight: this.limits.maxInFlight,
      maxInFlightBytes: this.limits.maxInFlightBytes,
      requestDeadlineMs: this.limits.requestDeadlineMs,
      logger: this.logger,
      logFields: { conn: this.id, peer },
    });
  }

  private onClose(reason: string): void {
    this.transmission?.onClosed();
    const stats = this.transmission?.stats;
    this.logger.info("nbd connection closed", {
      conn: this.id,
      export: this.chosen?.export.name,
      structuredReplies: this.chosen?.structuredReplies,
      tls: this.chosen?.tls,
      reason: this.endReason || reason,
      durationMs: Date.now() - this.openedMs,
      ...stats,
    });
    // Make sure the fd is released even if only the read side ended.
    if (!this.io.stream.destroyed) this.io.end(1000);
    this.resolveClosed();
  }

  /** Graceful stop: answer in-flight requests, refuse new ones, then close. */
  async shutdown(): Promise<void> {
    if (this.transmission) await Promise.race([this.transmission.shutdown(), this.closed]);
    else this.io.destroy();
    await this.closed;
  }

  /** Close immediately. */
  destroy(): void {
    this.io.destroy();
  }
}
