// MEASUREMENT ONLY, not part of the product: the smallest NBD server this runtime can be, to measure
// the CPU floor of one Node event loop serving NBD. One file, READ / WRITE / FLUSH / DISC with
// readSync / writeSync, fixed newstyle handshake (GO / INFO / EXPORT_NAME), simple replies only, no
// validation beyond what fio's nbd engine needs. Never serve real data with it.
// Run: node dist/bench/floor-server.js FILE SOCKET   (prints "ready" on stderr once listening)
// FLOOR_REPLY=write|cork|slab|handle how replies leave (default slab):
//   write   one socket.write per reply (pooled buffers, recycled by the write callback)
//   cork    the same, between socket.cork() and socket.uncork() around each received chunk
//   slab    replies built in one slab per received chunk, one socket.write of the slab
//   handle  the same slab written straight to the libuv handle (no stream machinery)
// FLOOR_RECV=data|onread: 'data' events (a fresh buffer per socket read) or one reusable buffer
// through `onread` (the product's technique, src/nbd/receive-buffer.ts). Default onread.
// FLOOR_WRITES=sync|worker: WRITEs of up to 4 KiB with writeSync on the event loop (default), or copied
// into a shared-memory ring and written by one worker thread, a received chunk's writes as one batch,
// their replies sent when the worker says the batch is done (what the fast path would need to hand its
// writes to another core; with FLOOR_REPLY=slab or handle only).
import { closeSync, fstatSync, fsyncSync, openSync, readSync, writeSync } from "node:fs";
import { createServer, Socket } from "node:net";
import { Worker } from "node:worker_threads";
import { rmSync } from "node:fs";
import { encodeExportNameReply, encodeGreeting, encodeInfo, encodeOptionReply } from "../src/nbd/codec.js";
import {
  Cmd,
  Errno,
  FLAG_FIXED_NEWSTYLE,
  FLAG_NO_ZEROES,
  Info,
  Opt,
  Rep,
  REQUEST_BYTES,
  SIMPLE_REPLY_BYTES,
  SIMPLE_REPLY_MAGIC,
  TFlag,
} from "../src/nbd/protocol.js";

type ReplyMode = "write" | "cork" | "slab" | "handle";
const REPLY = (process.env.FLOOR_REPLY ?? "slab") as ReplyMode;
const RECV = process.env.FLOOR_RECV ?? "onread";
if (!["write", "cork", "slab", "handle"].includes(REPLY)) throw new Error(`FLOOR_REPLY=${REPLY}?`);
if (!["data", "onread"].includes(RECV)) throw new Error(`FLOOR_RECV=${RECV}?`);

const WRITES = process.env.FLOOR_WRITES ?? "sync";
if (!["sync", "worker"].includes(WRITES)) throw new Error(`FLOOR_WRITES=${WRITES}?`);

const [file, socketPath] = process.argv.slice(2);
if (!file || !socketPath) throw new Error("usage: floor-server FILE SOCKET");
const fd = openSync(file, "r+");
const sizeBytes = fstatSync(fd).size;
const FLAGS = TFlag.HAS_FLAGS | TFlag.SEND_FLUSH | TFlag.CAN_MULTI_CONN;
const SLAB_BYTES = 4 << 20;

interface StreamHandle {
  writeBuffer(req: object, buf: Uint8Array): number;
}
interface WriteWrapLike {
  handle: StreamHandle;
  buffer: Buffer;
  oncomplete: (status: number) => void;
}
// Node's own write request type: what socket.write builds around every libuv write.
const streamWrap = (process as unknown as { binding(name: string): Record<string, unknown> }).binding(
  "stream_wrap",
) as {
  WriteWrap: new () => WriteWrapLike;
  streamBaseState: Int32Array;
  kLastWriteWasAsync: number;
};

/** Slots of the worker's ring (a power of two) and the largest WRITE one takes. */
const RING_SLOTS = 256;
const SLOT_BYTES = 4096;
/** Control words: [0] submitted, [1] completed (both counting up, wrapping at 2^31). */
const WORKER_SOURCE = `
const { workerData } = require("node:worker_threads");
const { writeSync } = require("node:fs");
const { fd, sab, slots, slotBytes, port } = workerData;
const ctrl = new Int32Array(sab, 0, 2);
const meta = new Float64Array(sab, 8, slots * 2);
const data = new Uint8Array(sab, 8 + slots * 16);
let done = 0;
for (;;) {
  const sub = Atomics.load(ctrl, 0);
  if (sub === done) { Atomics.wait(ctrl, 0, sub); continue; }
  while (done !== sub) {
    const slot = done & (slots - 1);
    writeSync(fd, data, slot * slotBytes, meta[slot * 2 + 1], meta[slot * 2]);
    done = (done + 1) | 0;
  }
  Atomics.store(ctrl, 1, done);
  port.postMessage(0);
}
`;

/** The FLOOR_WRITES=worker ring: one worker thread writing 4 KiB slots in submission order. */
class WriteRing {
  private readonly sab = new SharedArrayBuffer(8 + RING_SLOTS * 16 + RING_SLOTS * SLOT_BYTES);
  private readonly ctrl = new Int32Array(this.sab, 0, 2);
  private readonly meta = new Float64Array(this.sab, 8, RING_SLOTS * 2);
  private readonly data = new Uint8Array(this.sab, 8 + RING_SLOTS * 16);
  private submitted = 0;
  private completed = 0;
  /** Called with the number of writes the worker finished since the last call, oldest first. */
  onDone: (count: number) => void = () => undefined;

  constructor(fd: number) {
    const { port1, port2 } = new MessageChannel();
    port1.onmessage = () => {
      const now = Atomics.load(this.ctrl, 1);
      const count = (now - this.completed) | 0;
      this.completed = now;
      if (count > 0) this.onDone(count);
    };
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { fd, sab: this.sab, slots: RING_SLOTS, slotBytes: SLOT_BYTES, port: port2 },
      transferList: [port2 as never],
    });
    worker.unref();
  }

  /** Room for one more write? */
  get full(): boolean {
    return ((this.submitted - this.completed) | 0) >= RING_SLOTS;
  }

  /** Copy a write into the next slot (the worker sees it after publish()). */
  add(src: Buffer, at: number, length: number, offset: number): void {
    const slot = this.submitted & (RING_SLOTS - 1);
    this.data.set(src.subarray(at, at + length), slot * SLOT_BYTES);
    this.meta[slot * 2] = offset;
    this.meta[slot * 2 + 1] = length;
    this.submitted = (this.submitted + 1) | 0;
  }

  /** Hand the writes added so far to the worker. */
  publish(): void {
    Atomics.store(this.ctrl, 0, this.submitted);
    Atomics.notify(this.ctrl, 0);
  }
}

/** One connection: a handshake state machine, then the transmission loop over received chunks. */
class FloorConnection {
  private handshaking = true;
  private hs: Buffer = Buffer.alloc(0);
  private hsNeedFlags = true;
  private readonly header = Buffer.alloc(REQUEST_BYTES);
  private headerFill = 0;
  private partial: { cookie: Buffer; offset: number; payload: Buffer; filled: number } | undefined;
  private slab: Buffer = Buffer.allocUnsafeSlow(SLAB_BYTES);
  private slabUsed = 0;
  private readonly freeSlabs: Buffer[] = [];
  private readonly freeReplies = new Map<number, Buffer[]>();
  private handle: StreamHandle | undefined;
  /** FLOOR_WRITES=worker: the ring, and the cookies of its writes in flight, oldest first. */
  private readonly ring = WRITES === "worker" ? new WriteRing(fd) : undefined;
  private readonly cookies: Buffer[] = [];

  constructor(private readonly socket: Socket) {
    socket.on("error", () => socket.destroy());
    if (this.ring) {
      this.ring.onDone = (count) => {
        for (const cookie of this.cookies.splice(0, count)) this.replyOk(cookie, 0);
        this.flushSlab();
      };
    }
    socket.write(encodeGreeting(FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES));
  }

  /** One received chunk (valid only during the call with FLOOR_RECV=onread). */
  onChunk(chunk: Buffer): void {
    if (this.handshaking) return this.onHandshakeBytes(Buffer.from(chunk));
    if (REPLY === "cork") this.socket.cork();
    this.transmit(chunk, 0);
    this.ring?.publish();
    if (REPLY === "cork") this.socket.uncork();
    else if (REPLY === "slab" || REPLY === "handle") this.flushSlab();
  }

  private onHandshakeBytes(bytes: Buffer): void {
    this.hs = this.hs.length ? Buffer.concat([this.hs, bytes]) : bytes;
    for (;;) {
      if (this.hsNeedFlags) {
        if (this.hs.length < 4) return;
        this.hs = this.hs.subarray(4);
        this.hsNeedFlags = false;
      }
      if (this.hs.length < 16) return;
      const option = this.hs.readUInt32BE(8);
      const length = this.hs.readUInt32BE(12);
      if (this.hs.length < 16 + length) return;
      const data = this.hs.subarray(16, 16 + length);
      this.hs = this.hs.subarray(16 + length);
      const reply = (type: number, payload?: Buffer) =>
        this.socket.write(encodeOptionReply(option, type, payload));
      if (option === Opt.EXPORT_NAME) {
        this.socket.write(encodeExportNameReply(sizeBytes, FLAGS, true));
        return this.startTransmission();
      }
      if (option === Opt.GO || option === Opt.INFO) {
        reply(Rep.INFO, encodeInfo({ type: Info.EXPORT, sizeBytes, transmissionFlags: FLAGS }));
        reply(Rep.ACK);
        if (option === Opt.GO) return this.startTransmission();
        continue;
      }
      if (option === Opt.ABORT) {
        reply(Rep.ACK);
        this.socket.end();
        return;
      }
      void data;
      reply(Rep.ERR_UNSUP);
    }
  }

  private startTransmission(): void {
    this.handshaking = false;
    this.handle = (this.socket as unknown as { _handle: StreamHandle })._handle;
    const rest = this.hs;
    this.hs = Buffer.alloc(0);
    if (rest.length > 0) this.onChunk(rest);
  }

  private transmit(chunk: Buffer, start: number): void {
    const n = chunk.length;
    let pos = start;
    while (pos < n) {
      const p = this.partial;
      if (p) {
        const k = Math.min(n - pos, p.payload.length - p.filled);
        chunk.copy(p.payload, p.filled, pos, pos + k);
        p.filled += k;
        pos += k;
        if (p.filled < p.payload.length) return;
        this.partial = undefined;
        writeSync(fd, p.payload, 0, p.payload.length, p.offset);
        this.replyOk(p.cookie, 0);
        continue;
      }
      let h = chunk;
      let at = pos;
      if (this.headerFill > 0 || n - pos < REQUEST_BYTES) {
        const k = Math.min(REQUEST_BYTES - this.headerFill, n - pos);
        chunk.copy(this.header, this.headerFill, pos, pos + k);
        this.headerFill += k;
        pos += k;
        if (this.headerFill < REQUEST_BYTES) return;
        this.headerFill = 0;
        h = this.header;
        at = 0;
      } else pos += REQUEST_BYTES;
      const type = h.readUInt16BE(at + 6);
      const offset = h.readUInt32BE(at + 16) * 2 ** 32 + h.readUInt32BE(at + 20);
      const length = h.readUInt32BE(at + 24);
      if (type === Cmd.READ) {
        const buf = this.replyBuffer(h, at + 8, 0, length);
        readSync(fd, buf.data, buf.at + SIMPLE_REPLY_BYTES, length, offset);
        this.sendReply(buf.data, buf.at, length);
      } else if (type === Cmd.WRITE) {
        if (n - pos >= length && this.ring && length <= SLOT_BYTES && !this.ring.full) {
          this.ring.add(chunk, pos, length, offset);
          this.cookies.push(Buffer.from(h.subarray(at + 8, at + 16)));
          pos += length;
        } else if (n - pos >= length) {
          writeSync(fd, chunk, pos, length, offset);
          pos += length;
          this.replyOk(h, at + 8);
        } else {
          const cookie = Buffer.from(h.subarray(at + 8, at + 16));
          this.partial = { cookie, offset, payload: Buffer.allocUnsafe(length), filled: 0 };
        }
      } else if (type === Cmd.FLUSH) {
        fsyncSync(fd);
        this.replyOk(h, at + 8);
      } else if (type === Cmd.DISC) {
        this.socket.end();
        return;
      } else this.replyOk(h, at + 8, Errno.EINVAL);
    }
  }

  private replyOk(h: Buffer, cookieAt: number, errno = 0): void {
    const buf = this.replyBuffer(h, cookieAt, errno, 0);
    this.sendReply(buf.data, buf.at, 0);
  }

  /** Room for a simple reply with `length` data bytes, header written (magic, errno, cookie). */
  private replyBuffer(
    h: Buffer,
    cookieAt: number,
    errno: number,
    length: number,
  ): { data: Buffer; at: number } {
    const bytes = SIMPLE_REPLY_BYTES + length;
    let data: Buffer;
    let at = 0;
    if (REPLY === "slab" || REPLY === "handle") {
      if (this.slabUsed + bytes > this.slab.length) this.flushSlab();
      data = this.slab;
      at = this.slabUsed;
      this.slabUsed += bytes;
    } else data = this.freeReplies.get(bytes)?.pop() ?? Buffer.allocUnsafeSlow(bytes);
    data.writeUInt32BE(SIMPLE_REPLY_MAGIC, at);
    data.writeUInt32BE(errno, at + 4);
    h.copy(data, at + 8, cookieAt, cookieAt + 8);
    return { data, at };
  }

  private sendReply(data: Buffer, at: number, length: number): void {
    if (REPLY === "slab" || REPLY === "handle") return;
    const bytes = SIMPLE_REPLY_BYTES + length;
    void at;
    this.socket.write(data, () => {
      let list = this.freeReplies.get(bytes);
      if (!list) this.freeReplies.set(bytes, (list = []));
      if (list.length < 256) list.push(data);
    });
  }

  private flushSlab(): void {
    if (this.slabUsed === 0) return;
    const slab = this.slab;
    const out = slab.subarray(0, this.slabUsed);
    this.slab = this.freeSlabs.pop() ?? Buffer.allocUnsafeSlow(SLAB_BYTES);
    this.slabUsed = 0;
    const recycle = () => {
      if (this.freeSlabs.length < 4) this.freeSlabs.push(slab);
    };
    if (REPLY === "slab") {
      this.socket.write(out, recycle);
      return;
    }
    if (this.socket.destroyed || !this.handle) return;
    const req = new streamWrap.WriteWrap();
    req.handle = this.handle;
    req.buffer = out;
    req.oncomplete = recycle;
    const err = this.handle.writeBuffer(req, out);
    if (err !== 0) this.socket.destroy();
    else if (!streamWrap.streamBaseState[streamWrap.kLastWriteWasAsync]) recycle();
  }
}

/** Route a connection's reads into one reusable buffer (the product's onread technique). */
function adopt(accepted: Socket, sink: (chunk: Buffer) => void): Socket {
  const holder = accepted as unknown as { _handle: object | null };
  const handle = holder._handle;
  const buffer = Buffer.allocUnsafeSlow(256 * 1024);
  const onread = {
    buffer,
    callback: (nread: number, buf: Uint8Array) => sink(Buffer.from(buf.buffer, buf.byteOffset, nread)),
  };
  const socket = new Socket({ handle, onread } as ConstructorParameters<typeof Socket>[0]);
  holder._handle = null;
  socket.once("close", () => accepted.destroy());
  return socket;
}

rmSync(socketPath, { force: true });
const server = createServer({ pauseOnConnect: RECV === "onread" }, (accepted) => {
  if (RECV === "data") {
    const conn = new FloorConnection(accepted);
    accepted.on("data", (chunk: Buffer) => conn.onChunk(chunk));
    return;
  }
  let conn: FloorConnection | undefined = undefined;
  const early: Buffer[] = [];
  const socket = adopt(accepted, (chunk) => (conn ? conn.onChunk(chunk) : early.push(Buffer.from(chunk))));
  conn = new FloorConnection(socket);
  for (const chunk of early) conn.onChunk(chunk);
  socket.resume();
});
server.listen(socketPath, () => process.stderr.write(`floor-server ready (reply ${REPLY}, recv ${RECV})\n`));
const stop = () => {
  server.close();
  closeSync(fd);
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
