// One reusable receive buffer per plain (non-TLS) server connection: reads land in it through
// Node's `onread` instead of a fresh ArrayBuffer per socket read (which the GC then has to collect).
import { Socket } from "node:net";
import type { Duplex } from "node:stream";

/** Size of a connection's receive buffer: one read takes up to this much (many 4 KiB requests). */
export const RECEIVE_BUFFER_BYTES = 256 * 1024;

/** Receives bytes that are valid only until it returns (the buffer is then reused). */
export type BorrowedSink = (chunk: Buffer) => void;

/**
 * Reads straight into their destination: before each socket read `target()` may name the memory the
 * bytes must end up in (the unfilled rest of a large WRITE's payload); the read then lands there
 * instead of in the receive buffer, and `filled(target, n)` says that its first `n` bytes arrived.
 * A 1 MiB WRITE is so received without being copied out of the receive buffer first.
 */
export interface DirectReads {
  /** Where the next read may land, or undefined for the receive buffer. */
  target(): Uint8Array | undefined;
  /** The first `nread` bytes of `target` (as target() returned it) were received. */
  filled(target: Uint8Array, nread: number): void;
}

const sinks = new WeakMap<Duplex, BorrowedSink>();
const directs = new WeakMap<Duplex, DirectReads>();
/** Chunks received before a sink was attached (copied: the buffer is reused). */
const early = new WeakMap<Duplex, Buffer[]>();

/** True when `stream` delivers its bytes through a sink (no 'data' events). */
export function hasReceiveBuffer(stream: Duplex): boolean {
  return early.has(stream);
}

/** Route the borrowed chunks of `stream` to `sink` (undefined: keep copies until a sink is set). */
export function setBorrowedSink(stream: Duplex, sink: BorrowedSink | undefined): void {
  if (!sink) {
    sinks.delete(stream);
    return;
  }
  sinks.set(stream, sink);
  const waiting = early.get(stream);
  if (waiting && waiting.length > 0) early.set(stream, []);
  for (const chunk of waiting ?? []) sink(chunk);
}

/** Let `stream`'s reads land in `reads.target()` when it names one (undefined: the receive buffer only). */
export function setDirectReads(stream: Duplex, reads: DirectReads | undefined): void {
  if (reads) directs.set(stream, reads);
  else directs.delete(stream);
}

/**
 * Re-wrap a socket accepted with `pauseOnConnect` so that its reads go into one reusable buffer.
 * Node offers `onread` only for sockets it creates, so the accepted socket's handle moves into a new
 * Socket; the accepted one is released when the new one closes (the server counts it until then).
 * Returns the accepted socket unchanged when its handle is not reachable (other Node versions).
 */
export function adoptWithReceiveBuffer(accepted: Socket): Socket {
  const holder = accepted as unknown as { _handle?: object | null };
  const handle = holder._handle;
  if (!handle) {
    accepted.resume();
    return accepted;
  }
  const buffer = Buffer.allocUnsafeSlow(RECEIVE_BUFFER_BYTES);
  let socket: Socket | undefined = undefined;
  /** The direct target the next read lands in, and who asked for it (told even if it has left). */
  let armed: { target: Uint8Array; reads: DirectReads } | undefined;
  const onread = {
    // Node asks for the next read's memory when the socket starts and after every read callback.
    buffer: (): Uint8Array => {
      const reads = socket ? directs.get(socket) : undefined;
      const target = reads?.target();
      armed = reads && target && target.length > 0 ? { target, reads } : undefined;
      return armed ? armed.target : buffer;
    },
    callback: (nread: number, buf: Uint8Array): void => {
      if (armed !== undefined && buf === armed.target) {
        const { target, reads } = armed;
        armed = undefined;
        reads.filled(target, nread);
        return;
      }
      const chunk = Buffer.from(buf.buffer, buf.byteOffset, nread);
      const sink = sinks.get(socket!);
      if (sink) sink(chunk);
      else early.get(socket!)?.push(Buffer.from(chunk));
    },
  };
  socket = new Socket({ handle, onread } as ConstructorParameters<typeof Socket>[0]);
  early.set(socket, []);
  holder._handle = null;
  socket.once("close", () => accepted.destroy());
  return socket;
}
