// One reusable receive buffer per plain (non-TLS) server connection: reads land in it through
// Node's `onread` instead of a fresh ArrayBuffer per socket read (which the GC then has to collect).
import { Socket } from "node:net";
import type { Duplex } from "node:stream";

/** Size of a connection's receive buffer: one read takes up to this much (many 4 KiB requests). */
export const RECEIVE_BUFFER_BYTES = 256 * 1024;

/** Receives bytes that are valid only until it returns (the buffer is then reused). */
export type BorrowedSink = (chunk: Buffer) => void;

const sinks = new WeakMap<Duplex, BorrowedSink>();
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
  const onread = {
    buffer,
    callback: (nread: number, buf: Uint8Array): void => {
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
