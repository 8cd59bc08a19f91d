// NBD client device: a BlockDevice backed by a remote NBD export (nbd:// or nbd+unix:// URI).
// A lost connection (closed socket, ESHUTDOWN, no reply in time) is re-established at once with
// backoff and in-flight requests are re-sent, fenced: later overlapping requests wait for the
// re-sent writes. A remote that stays away fails requests with DisconnectedError, never MediumError.
import type { DeviceCapabilities, WriteOptions, WriteZeroesOptions } from "../block/block-device.js";
import { BaseDevice } from "../block/base-device.js";
import {
  DisconnectedError,
  MediumError,
  NoSpaceError,
  OpenError,
  ReadOnlyError,
  RemoteError,
  UnsupportedError,
} from "../block/errors.js";
import { registerDeviceOpener } from "../block/open-device.js";
import { NbdClientTransport, type ClientOp } from "./client-transport.js";
import { formatNbdUri, parseNbdUri, type NbdTarget } from "./nbd-uri.js";
import { Cmd, CmdFlag, Errno, errnoName, MAX_PAYLOAD_BYTES, TFlag } from "./protocol.js";

/** Options of an NBD client device. */
export interface NbdDeviceOptions {
  /** Refuse writes even if the export is writable. */
  readonly readOnly?: boolean;
  /** Time allowed for one connect + handshake (default 10 s). */
  readonly connectTimeoutMs?: number;
  /** How long to keep reconnecting after a connection loss before failing requests (default 8 s). */
  readonly reconnectTimeoutMs?: number;
  /**
   * A request unanswered this long is treated as a dead connection (default 8 s). Both timers stay
   * well below the NBD server's request deadline (25 s), so a restarted remote costs one reconnect.
   */
  readonly requestTimeoutMs?: number;
}

/** Defaults of the client's own timers (below the 25 s request deadline of the server in front). */
export const NBD_CLIENT_DEFAULTS = {
  connectTimeoutMs: 5_000,
  reconnectTimeoutMs: 8_000,
  requestTimeoutMs: 8_000,
};

type OpKind = "read" | "write" | "flush" | "trim" | "zero";

interface PendingOp extends ClientOp {
  readonly kind: OpKind;
  cookie: number;
  sentMs: number;
  /** Sent on a connection that was lost: its outcome is unknown until the re-send is answered. */
  resent?: boolean;
  /** Resolves when the op is settled (for requests fenced behind a re-sent write). */
  settled?: Promise<void>;
  markSettled?: () => void;
}

const ZERO_SPLIT_BYTES = 1 << 30;

/** Open an NBD export as a BlockDevice; rejects with OpenError if the first connection fails. */
export async function openNbdDevice(uri: string, options: NbdDeviceOptions = {}): Promise<NbdDevice> {
  let target: NbdTarget;
  try {
    target = parseNbdUri(uri);
  } catch (err) {
    throw new OpenError(uri, (err as Error).message, { cause: err });
  }
  const connectTimeoutMs = options.connectTimeoutMs ?? NBD_CLIENT_DEFAULTS.connectTimeoutMs;
  let transport: NbdClientTransport;
  try {
    transport = await NbdClientTransport.connect(target, connectTimeoutMs);
  } catch (err) {
    throw new OpenError(uri, `cannot open NBD export ${uri}: ${(err as Error).message}`, { cause: err });
  }
  return new NbdDevice(target, transport, options);
}

registerDeviceOpener("nbd", openNbdDevice);

/** A remote NBD export; see openNbdDevice. */
export class NbdDevice extends BaseDevice {
  readonly sizeBytes: number;
  readonly name: string;
  readonly capabilities: DeviceCapabilities;
  private readonly maxPayload: number;
  private readonly pending = new Set<PendingOp>();
  private transport: NbdClientTransport | undefined;
  private reconnecting: Promise<void> | undefined;
  private nextCookie = 1;
  private reconnects = 0;
  private resends = 0;
  private fencedRequests = 0;
  private shutdowns = 0;
  private readonly watchdog: NodeJS.Timeout;
  private readonly flags: number;

  constructor(
    private readonly target: NbdTarget,
    transport: NbdClientTransport,
    private readonly options: NbdDeviceOptions,
  ) {
    super();
    const d = transport.details;
    this.name = formatNbdUri(target);
    this.sizeBytes = d.sizeBytes;
    this.flags = d.transmissionFlags;
    this.maxPayload = d.maximumBlock > 0 ? Math.min(d.maximumBlock, MAX_PAYLOAD_BYTES) : MAX_PAYLOAD_BYTES;
    this.capabilities = {
      flush: true,
      fua: true,
      trim: (this.flags & TFlag.SEND_TRIM) !== 0,
      writeZeroes: (this.flags & TFlag.SEND_WRITE_ZEROES) !== 0,
      readOnly: options.readOnly === true || (this.flags & TFlag.READ_ONLY) !== 0,
    };
    this.attach(transport);
    const timeoutMs = options.requestTimeoutMs ?? NBD_CLIENT_DEFAULTS.requestTimeoutMs;
    this.watchdog = setInterval(() => this.checkStalled(timeoutMs), Math.min(1000, timeoutMs / 4));
    this.watchdog.unref();
  }

  private attach(transport: NbdClientTransport): void {
    this.transport = transport;
    transport.onLost((reason) => {
      if (this.transport === transport) this.transport = undefined;
      if (!this.closed) void this.reconnect(reason);
    });
  }

  /** Drop the current connection (if any) and reconnect at once: the one reaction to every loss. */
  private hangUp(reason: string): void {
    const t = this.transport;
    this.transport = undefined;
    t?.close();
    if (!this.closed) void this.reconnect(reason);
  }

  /** Keep trying to reconnect (backoff with jitter) until the window closes; then fail every pending request. */
  private reconnect(reason: string): Promise<void> {
    this.reconnecting ??= (async () => {
      const windowMs = this.options.reconnectTimeoutMs ?? NBD_CLIENT_DEFAULTS.reconnectTimeoutMs;
      const connectMs = this.options.connectTimeoutMs ?? NBD_CLIENT_DEFAULTS.connectTimeoutMs;
      const deadline = Date.now() + windowMs;
      let delayMs = 20;
      let lastError = reason;
      while (!this.closed) {
        try {
          const remaining = Math.max(100, deadline - Date.now());
          const t = await NbdClientTransport.connect(this.target, Math.min(remaining, connectMs));
          if (t.details.sizeBytes !== this.sizeBytes) {
            t.close();
            throw new Error(`export size changed from ${this.sizeBytes} to ${t.details.sizeBytes}`);
          }
          this.reconnects++;
          this.attach(t);
          // Re-send in the original order; each write's outcome stays unknown (fenced) until answered.
          const never: PendingOp[] = [];
          for (const op of this.pending) {
            if (op.cookie === 0) {
              never.push(op);
              continue;
            }
            op.resent = true;
            this.resends++;
            this.sendOp(op);
          }
          // Requests made while disconnected go after the re-sent writes they overlap.
          for (const op of never) {
            const waits = this.fencedBy(op.kind, op.offsetBytes, op.lengthBytes);
            if (waits.length === 0) this.sendOp(op);
            else {
              this.fencedRequests++;
              void Promise.all(waits).then(() => {
                if (this.pending.has(op) && this.transport) this.sendOp(op);
              });
            }
          }
          return;
        } catch (err) {
          lastError = (err as Error).message;
        }
        if (Date.now() + delayMs > deadline) break;
        await new Promise((r) => setTimeout(r, delayMs * (0.75 + Math.random() * 0.5)));
        delayMs = Math.min(delayMs * 2, 500);
      }
      const error = new DisconnectedError(this.name, `connection lost and not re-established: ${lastError}`);
      for (const op of [...this.pending]) this.settle(op, error);
    })().finally(() => (this.reconnecting = undefined));
    return this.reconnecting;
  }

  private checkStalled(timeoutMs: number): void {
    const now = Date.now();
    for (const op of this.pending) {
      if (this.transport && op.sentMs > 0 && now - op.sentMs > timeoutMs) {
        // A silent server is a dead connection: hang up, reconnect and re-send.
        this.hangUp(`no reply within ${timeoutMs} ms`);
        return;
      }
    }
  }

  private sendOp(op: PendingOp): void {
    op.cookie = this.nextCookie;
    this.nextCookie = this.nextCookie >= 0x7fffffff ? 1 : this.nextCookie + 1;
    op.sentMs = Date.now();
    this.transport?.send(op.cookie, op);
  }

  private settle(op: PendingOp, err: Error | undefined): void {
    if (!this.pending.delete(op)) return;
    op.markSettled?.();
    (op as unknown as { resolveOp: (e?: Error) => void }).resolveOp(err);
  }

  /** Re-sent writes (and trims, zeroes) whose answer is still unknown and that overlap the range (all, for a flush). */
  private fencedBy(kind: OpKind, offsetBytes: number, lengthBytes: number): Promise<void>[] {
    const waits: Promise<void>[] = [];
    for (const op of this.pending) {
      if (!op.resent || op.kind === "read" || op.kind === "flush") continue;
      const overlaps =
        op.offsetBytes < offsetBytes + lengthBytes && offsetBytes < op.offsetBytes + op.lengthBytes;
      if (kind === "flush" || overlaps) {
        op.settled ??= new Promise<void>((resolve) => (op.markSettled = resolve));
        waits.push(op.settled);
      }
    }
    return waits;
  }

  /** Issue one wire request (length within the server's limits). */
  private request(
    kind: OpKind,
    type: number,
    flags: number,
    offsetBytes: number,
    lengthBytes: number,
    data?: Uint8Array,
  ): Promise<void> {
    if (this.closed) return Promise.reject(new DisconnectedError(this.name, "device is closed"));
    if (this.resends > 0 && this.pending.size > 0) {
      // No request is ordered before a re-sent write it overlaps (nor a flush before any).
      const waits = this.fencedBy(kind, offsetBytes, lengthBytes);
      if (waits.length > 0) {
        this.fencedRequests++;
        return Promise.all(waits).then(() => this.request(kind, type, flags, offsetBytes, lengthBytes, data));
      }
    }
    return new Promise<void>((resolve, reject) => {
      const op: PendingOp & { resolveOp: (e?: Error) => void } = {
        kind,
        type,
        flags,
        offsetBytes,
        lengthBytes,
        ...(type === Cmd.WRITE ? { payload: data } : type === Cmd.READ ? { target: data } : {}),
        cookie: 0,
        sentMs: 0,
        resolveOp: (e) => (e ? reject(e) : resolve()),
        done: (errno) => this.onReply(op, errno),
      };
      this.pending.add(op);
      if (this.transport) this.sendOp(op);
      else void this.reconnect("not connected");
    });
  }

  private onReply(op: PendingOp, errno: number): void {
    if (errno === Errno.ESHUTDOWN) {
      // The server is going away and refuses new work: hang up now, reconnect, re-send (the op
      // stays pending). Waiting for it to close could take longer than any deadline.
      this.shutdowns++;
      op.cookie = -1;
      if (this.transport) this.hangUp("server answered ESHUTDOWN");
      return;
    }
    this.settle(op, errno === 0 ? undefined : this.errorFor(op, errno));
  }

  /** The client-side errno mapping: EIO is a medium error on exactly the requested range. */
  private errorFor(op: PendingOp, errno: number): Error {
    switch (errno) {
      case Errno.EIO:
        return new MediumError(this.name, op.kind, op.offsetBytes, op.lengthBytes);
      case Errno.ENOSPC:
        return new NoSpaceError(this.name, `server reported ENOSPC on ${op.kind} at ${op.offsetBytes}`);
      case Errno.EPERM:
        return new ReadOnlyError(this.name, "server refused the write (EPERM)");
      case Errno.ENOTSUP:
        return new UnsupportedError(this.name, op.kind);
      default:
        return new RemoteError(
          this.name,
          errnoName(errno),
          `${this.name}: server answered ${errnoName(errno)} to ${op.kind} at ${op.offsetBytes} length ${op.lengthBytes}`,
        );
    }
  }

  protected async _read(offsetBytes: number, target: Uint8Array): Promise<void> {
    const parts: Promise<void>[] = [];
    for (let done = 0; done < target.length; done += this.maxPayload) {
      const n = Math.min(this.maxPayload, target.length - done);
      parts.push(this.request("read", Cmd.READ, 0, offsetBytes + done, n, target.subarray(done, done + n)));
    }
    await Promise.all(parts);
  }

  protected async _write(offsetBytes: number, data: Uint8Array, options: WriteOptions): Promise<void> {
    const fua = options.fua ? CmdFlag.FUA : 0;
    const canFua = (this.flags & TFlag.SEND_FUA) !== 0;
    const parts: Promise<void>[] = [];
    for (let done = 0; done < data.length; done += this.maxPayload) {
      const n = Math.min(this.maxPayload, data.length - done);
      const chunk = data.subarray(done, done + n);
      parts.push(this.request("write", Cmd.WRITE, canFua ? fua : 0, offsetBytes + done, n, chunk));
    }
    await Promise.all(parts);
    if (options.fua && !canFua) await this._flush();
  }

  protected async _flush(): Promise<void> {
    if (this.flags & TFlag.SEND_FLUSH) await this.request("flush", Cmd.FLUSH, 0, 0, 0);
  }

  protected override async _trim(offsetBytes: number, lengthBytes: number): Promise<void> {
    for (let at = offsetBytes; at < offsetBytes + lengthBytes; at += ZERO_SPLIT_BYTES) {
      await this.request("trim", Cmd.TRIM, 0, at, Math.min(ZERO_SPLIT_BYTES, offsetBytes + lengthBytes - at));
    }
  }

  protected override async _writeZeroes(
    offsetBytes: number,
    lengthBytes: number,
    options: WriteZeroesOptions,
  ): Promise<void> {
    if (!this.capabilities.writeZeroes) return super._writeZeroes(offsetBytes, lengthBytes, options);
    const flags =
      (options.mayTrim ? 0 : CmdFlag.NO_HOLE) |
      (options.fua && this.flags & TFlag.SEND_FUA ? CmdFlag.FUA : 0);
    for (let at = offsetBytes; at < offsetBytes + lengthBytes; at += ZERO_SPLIT_BYTES) {
      await this.request(
        "zero",
        Cmd.WRITE_ZEROES,
        flags,
        at,
        Math.min(ZERO_SPLIT_BYTES, offsetBytes + lengthBytes - at),
      );
    }
    if (options.fua && !(this.flags & TFlag.SEND_FUA)) await this._flush();
  }

  protected override async _close(): Promise<void> {
    clearInterval(this.watchdog);
    this.transport?.close();
    this.transport = undefined;
    const error = new DisconnectedError(this.name, "device closed");
    for (const op of [...this.pending]) this.settle(op, error);
  }

  protected override statusExtra(): Record<string, unknown> {
    return {
      uri: this.name,
      connected: this.transport !== undefined,
      structuredReplies: this.transport?.details.structuredReplies ?? false,
      tls: this.transport?.details.tls ?? false,
      reconnects: this.reconnects,
      resentRequests: this.resends,
      fencedRequests: this.fencedRequests,
      shutdownReplies: this.shutdowns,
      inFlight: this.pending.size,
    };
  }

  describe(): string {
    return this.name;
  }
}
