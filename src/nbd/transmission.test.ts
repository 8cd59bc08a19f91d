// Transmission phase: chunked framing, out-of-order replies, validation, bounds, deadlines, DISC, stop(),
// and the synchronous fast path (answer-now).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createConnection } from "node:net";
import { MediumError, NoSpaceError } from "../block/errors.js";
import { REQUEST_OPS, type RequestTimes } from "../core/request-times.js";
import { readBytes } from "../block/base-device.js";
import type { WriteOptions } from "../block/block-device.js";
import { MemoryDevice } from "../block/memory-device.js";
import { decodeErrorChunkPayload, readU64 } from "./codec.js";
import { Cmd, CmdFlag, Errno, ReplyFlag, ReplyType } from "./protocol.js";
import {
  closed,
  deferred,
  memoryLogger,
  prng,
  rawConnect,
  rawHandshake,
  readChunk,
  readSimpleReply,
  request,
  startTestServer,
} from "./test-support.js";
import { SocketIo } from "./socket-io.js";

const KiB = 1024;

test("requests split byte-by-byte and in random chunks are framed exactly", async () => {
  const ts = await startTestServer();
  try {
    const { io, socket } = await rawConnect(ts.path);
    await rawHandshake(io);
    const rand = prng(7);
    const stream: Buffer[] = [];
    const expected: Buffer[] = [];
    for (let i = 0; i < 40; i++) {
      const data = Buffer.alloc(512 * (1 + (i % 5)), i);
      stream.push(request(Cmd.WRITE, i, i * 8 * KiB, data.length), data);
      expected.push(data);
    }
    const all = Buffer.concat(stream);
    for (let at = 0; at < all.length;) {
      const n = at < 2000 ? 1 : 1 + Math.floor(rand() * 3000);
      socket.write(all.subarray(at, at + n));
      at += n;
    }
    for (let i = 0; i < 40; i++) assert.equal((await readSimpleReply(io)).errno, 0);
    for (let i = 0; i < 40; i++) {
      socket.write(request(Cmd.READ, 100 + i, i * 8 * KiB, expected[i]!.length));
      const r = await readSimpleReply(io, expected[i]!.length);
      assert.equal(r.cookie, 100 + i);
      assert.deepEqual(r.data, expected[i]);
    }
    socket.destroy();
  } finally {
    await ts.stop();
  }
});

test("replies go out of order when the device finishes out of order", async () => {
  const ts = await startTestServer();
  try {
    const { io, socket } = await rawConnect(ts.path);
    await rawHandshake(io);
    const gate = deferred();
    ts.device.gate = gate.promise;
    socket.write(request(Cmd.READ, 1, 0, 4096));
    socket.write(request(Cmd.FLUSH, 2, 0, 0));
    const flush = await readSimpleReply(io);
    assert.equal(flush.cookie, 2, "flush overtakes the held read");
    gate.resolve();
    ts.device.gate = undefined;
    const read = await readSimpleReply(io, 4096);
    assert.equal(read.cookie, 1);
    socket.destroy();
  } finally {
    await ts.stop();
  }
});

test("validation: ranges, flags, zero lengths, unknown commands, oversize writes consumed", async () => {
  const ts = await startTestServer({ sizeBytes: 1 << 20 });
  try {
    const { io, socket } = await rawConnect(ts.path);
    await rawHandshake(io);
    const ask = async (buf: Buffer, dataBytes = 0) => {
      socket.write(buf);
      return (await readSimpleReply(io, dataBytes)).errno;
    };
    assert.equal(await ask(request(Cmd.READ, 1, 1 << 20, 512)), Errno.EINVAL);
    assert.equal(
      await ask(Buffer.concat([request(Cmd.WRITE, 2, (1 << 20) - 512, 1024), Buffer.alloc(1024)])),
      Errno.ENOSPC,
    );
    assert.equal(await ask(request(Cmd.TRIM, 3, 2 ** 60, 512)), Errno.EINVAL);
    assert.equal(await ask(request(Cmd.WRITE_ZEROES, 4, 1 << 20, 1)), Errno.ENOSPC);
    assert.equal(await ask(request(Cmd.READ, 5, 0, 0)), 0);
    assert.equal(await ask(request(Cmd.WRITE, 6, 0, 0)), 0);
    assert.equal(await ask(request(Cmd.TRIM, 7, 0, 0)), 0);
    assert.equal(await ask(request(Cmd.WRITE_ZEROES, 8, 0, 0)), 0);
    assert.equal(await ask(request(Cmd.CACHE, 9, 0, 4096)), 0);
    assert.equal(await ask(request(42, 10, 0, 0)), Errno.EINVAL);
    assert.equal(await ask(request(Cmd.READ, 11, 0, 512, 1 << 9)), Errno.EINVAL, "unknown flag");
    assert.equal(await ask(request(Cmd.READ, 12, 0, 512, CmdFlag.DF)), Errno.EINVAL, "DF without structured");
    assert.equal(await ask(request(Cmd.BLOCK_STATUS, 13, 0, 512)), Errno.EINVAL, "no meta context");
    assert.equal(await ask(request(Cmd.READ, 14, 0, (32 << 20) + 1)), Errno.EINVAL);
    const huge = (32 << 20) + 4096;
    socket.write(request(Cmd.WRITE, 15, 0, huge));
    socket.write(Buffer.alloc(huge, 0x77));
    assert.equal((await readSimpleReply(io)).errno, Errno.EINVAL);
    const r = await ask(Buffer.concat([request(Cmd.WRITE, 16, 0, 512, CmdFlag.FUA), Buffer.alloc(512, 1)]));
    assert.equal(r, 0, "the stream is still in sync after the skipped payload");
    socket.write(request(Cmd.READ, 17, 0, 512));
    assert.deepEqual((await readSimpleReply(io, 512)).data, Buffer.alloc(512, 1));
    socket.destroy();
  } finally {
    await ts.stop();
  }
});

test("write zeroes, trim, FAST_ZERO and read-only exports", async () => {
  const ts = await startTestServer({ sizeBytes: 1 << 20 });
  try {
    const { io, socket } = await rawConnect(ts.path);
    await rawHandshake(io);
    socket.write(Buffer.concat([request(Cmd.WRITE, 1, 0, 8192), Buffer.alloc(8192, 9)]));
    assert.equal((await readSimpleReply(io)).errno, 0);
    socket.write(request(Cmd.WRITE_ZEROES, 2, 1024, 2048, CmdFlag.NO_HOLE | CmdFlag.FAST_ZERO | CmdFlag.FUA));
    assert.equal((await readSimpleReply(io)).errno, 0);
    socket.write(request(Cmd.TRIM, 3, 4096, 4096, CmdFlag.FUA));
    assert.equal((await readSimpleReply(io)).errno, 0);
    socket.write(request(Cmd.READ, 4, 0, 8192));
    const data = (await readSimpleReply(io, 8192)).data;
    assert.deepEqual(data.subarray(0, 1024), Buffer.alloc(1024, 9));
    assert.deepEqual(data.subarray(1024, 3072), Buffer.alloc(2048));
    assert.deepEqual(data.subarray(3072, 4096), Buffer.alloc(1024, 9));
    ts.device.readOnly = true;
    socket.write(Buffer.concat([request(Cmd.WRITE, 5, 0, 512), Buffer.alloc(512)]));
    assert.equal((await readSimpleReply(io)).errno, Errno.EPERM);
    socket.write(request(Cmd.TRIM, 6, 0, 512));
    assert.equal((await readSimpleReply(io)).errno, Errno.EPERM);
    socket.destroy();
  } finally {
    await ts.stop();
  }
});

test("device errors are mapped; structured replies carry data, errors and block status", async () => {
  const ts = await startTestServer();
  try {
    const { io, socket } = await rawConnect(ts.path);
    await rawHandshake(io, { structured: true });
    socket.write(Buffer.concat([request(Cmd.WRITE, 1, 8192, 512), Buffer.alloc(512, 5)]));
    assert.equal((await readSimpleReply(io)).errno, 0);
    socket.write(request(Cmd.READ, 2, 8192, 512, CmdFlag.DF));
    const chunk = await readChunk(io);
    assert.equal(chunk.header.type, ReplyType.OFFSET_DATA);
    assert.equal(chunk.header.flags, ReplyFlag.DONE);
    assert.equal(readU64(chunk.payload, 0), 8192);
    assert.deepEqual(chunk.payload.subarray(8), Buffer.alloc(512, 5));

    ts.device.failWith = new MediumError("controlled", "read", 0, 512);
    socket.write(request(Cmd.READ, 3, 0, 512));
    const err = await readChunk(io);
    assert.equal(err.header.type, ReplyType.ERROR);
    assert.equal(decodeErrorChunkPayload(err.payload).errno, Errno.EIO);
    ts.device.failWith = new NoSpaceError("controlled", "no spare left");
    socket.write(Buffer.concat([request(Cmd.WRITE, 4, 0, 512), Buffer.alloc(512)]));
    assert.equal((await readSimpleReply(io)).errno, Errno.ENOSPC);
    ts.device.failWith = undefined;

    socket.write(request(Cmd.BLOCK_STATUS, 5, 4096, 1 << 20, CmdFlag.REQ_ONE));
    const bs = await readChunk(io);
    assert.equal(bs.header.type, ReplyType.BLOCK_STATUS);
    assert.deepEqual(
      [bs.payload.readUInt32BE(0), bs.payload.readUInt32BE(4), bs.payload.readUInt32BE(8)],
      [1, 1 << 20, 0],
    );
    socket.write(request(Cmd.READ, 6, 0, 0));
    assert.equal((await readChunk(io)).header.type, ReplyType.NONE);
    socket.destroy();
  } finally {
    await ts.stop();
  }
});

test("in-flight requests are bounded per connection", async () => {
  const ts = await startTestServer({ maxInFlight: 4 });
  try {
    const { io, socket } = await rawConnect(ts.path);
    await rawHandshake(io);
    const gate = deferred();
    ts.device.gate = gate.promise;
    for (let i = 0; i < 50; i++) socket.write(request(Cmd.READ, i, 0, 512));
    // The 5th request can only reach the device once one of the first four is answered.
    await new Promise((r) => setImmediate(r));
    while (ts.device.started < 4) await new Promise((r) => setImmediate(r));
    gate.resolve();
    ts.device.gate = undefined;
    for (let i = 0; i < 50; i++) assert.equal((await readSimpleReply(io, 512)).errno, 0);
    assert.ok(ts.device.maxActive <= 4, `max active ${ts.device.maxActive}`);
    socket.destroy();
  } finally {
    await ts.stop();
  }
});

test("socket backpressure: a client that does not read stops the server reading", async () => {
  const ts = await startTestServer({ sizeBytes: 8 << 20 });
  try {
    const { io, socket } = await rawConnect(ts.path);
    await rawHandshake(io);
    socket.pause();
    const requests = Buffer.concat(Array.from({ length: 400 }, (_, i) => request(Cmd.READ, i, 0, 1 << 20)));
    socket.write(requests);
    // Wait until the server's reads stall: the count stops growing across several event-loop turns.
    let last = -1;
    let stable = 0;
    while (stable < 50) {
      await new Promise((r) => setTimeout(r, 2));
      stable = ts.device.started === last ? stable + 1 : 0;
      last = ts.device.started;
    }
    assert.ok(last < 400, `server kept reading while the client was not reading (${last} reads)`);
    socket.resume();
    for (let i = 0; i < 400; i++) assert.equal((await readSimpleReply(io, 1 << 20)).errno, 0);
    socket.destroy();
  } finally {
    await ts.stop();
  }
});

test("per-request deadline answers EIO and the late result is ignored", async () => {
  const logger = memoryLogger();
  const ts = await startTestServer({ requestDeadlineMs: 40, logger });
  try {
    const { io, socket } = await rawConnect(ts.path);
    await rawHandshake(io);
    const gate = deferred();
    ts.device.gate = gate.promise;
    socket.write(request(Cmd.READ, 1, 0, 512));
    const r = await readSimpleReply(io);
    assert.deepEqual([r.cookie, r.errno], [1, Errno.EIO]);
    ts.device.gate = undefined;
    gate.resolve();
    socket.write(request(Cmd.FLUSH, 2, 0, 0));
    const next = await readSimpleReply(io);
    assert.deepEqual([next.cookie, next.errno], [2, 0], "no stray reply for cookie 1");
    assert.ok(logger.lines.some((l) => l.message.includes("deadline")));
    socket.destroy();
  } finally {
    await ts.stop();
  }
});

test("DISC finishes in-flight requests, then closes", async () => {
  const ts = await startTestServer();
  try {
    const { io, socket } = await rawConnect(ts.path);
    await rawHandshake(io);
    const gate = deferred();
    ts.device.gate = gate.promise;
    socket.write(
      Buffer.concat([request(Cmd.WRITE, 1, 0, 512), Buffer.alloc(512, 3), request(Cmd.DISC, 2, 0, 0)]),
    );
    while (ts.device.started < 1) await new Promise((r) => setImmediate(r));
    gate.resolve();
    assert.equal((await readSimpleReply(io)).cookie, 1);
    await closed(socket);
    const back = Buffer.alloc(512);
    await ts.memory.read(0, back);
    assert.deepEqual(back, Buffer.alloc(512, 3));
  } finally {
    await ts.stop();
  }
});

test("stop() answers in-flight requests, refuses new ones with ESHUTDOWN, and closes", async () => {
  const logger = memoryLogger();
  const ts = await startTestServer({ logger });
  const { io, socket } = await rawConnect(ts.path);
  await rawHandshake(io);
  const gate = deferred();
  ts.device.gate = gate.promise;
  socket.write(request(Cmd.READ, 1, 0, 512));
  while (ts.device.started < 1) await new Promise((r) => setImmediate(r));
  const stopping = ts.stop();
  await new Promise((r) => setImmediate(r));
  socket.write(request(Cmd.FLUSH, 2, 0, 0));
  const refused = await readSimpleReply(io);
  assert.deepEqual([refused.cookie, refused.errno], [2, Errno.ESHUTDOWN]);
  gate.resolve();
  const answered = await readSimpleReply(io, 512);
  assert.deepEqual([answered.cookie, answered.errno], [1, 0]);
  await closed(socket);
  await stopping;
  const opened = logger.lines.filter((l) => l.message === "nbd connection opened").length;
  const closedLines = logger.lines.filter((l) => l.message === "nbd connection closed").length;
  assert.deepEqual([opened, closedLines], [1, 1]);
});

test("requests received before the client half-closes its socket are still answered, then the server closes", async () => {
  const ts = await startTestServer();
  try {
    const socket = createConnection({ path: ts.path, allowHalfOpen: true });
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    const io = new SocketIo(socket, () => {});
    await rawHandshake(io);
    const gate = deferred();
    ts.device.gate = gate.promise;
    const data = Buffer.alloc(4 * KiB, 0x5a);
    socket.write(
      Buffer.concat([request(Cmd.WRITE, 1, 0, data.length), data, request(Cmd.READ, 2, 0, 4 * KiB)]),
    );
    socket.end(); // FIN after the last request: "I have nothing more to send"
    gate.resolve();
    const first = await readSimpleReply(io);
    assert.deepEqual([first.cookie, first.errno], [1, 0]);
    const second = await readSimpleReply(io, 4 * KiB);
    assert.deepEqual([second.cookie, second.errno], [2, 0]);
    assert.deepEqual(second.data, data);
    await closed(socket);
  } finally {
    await ts.stop();
  }
});

/** Memory that answers now (the fast path), counting its answers; `throwNow` makes the fast path throw. */
class NowMemory extends MemoryDevice {
  /** When set, the promise path waits for it before it copies the payload. */
  writeGate: Promise<void> | undefined;
  protected override async _write(
    offsetBytes: number,
    data: Uint8Array,
    options: WriteOptions,
  ): Promise<void> {
    if (this.writeGate) await this.writeGate;
    return super._write(offsetBytes, data, options);
  }
  fastReads = 0;
  fastWrites = 0;
  throwNow: Error | undefined;
  refuseWrites = false;
  /** Called with each write's offset as it reaches the device, fast or not. */
  onWrite: ((offsetBytes: number) => void) | undefined;
  protected override _readNow(offsetBytes: number, target: Uint8Array): boolean {
    if (this.throwNow) throw this.throwNow;
    this.fastReads++;
    return super._readNow(offsetBytes, target);
  }
  protected override _writeNow(offsetBytes: number, data: Uint8Array): boolean {
    this.onWrite?.(offsetBytes);
    if (this.refuseWrites) return false;
    this.fastWrites++;
    return super._writeNow(offsetBytes, data);
  }
}

test("a device that answers now is replied to at once, simple and structured; FUA writes take the promise path", async () => {
  const device = new NowMemory({ sizeBytes: 4 << 20 });
  const ts = await startTestServer({ device });
  try {
    for (const structured of [false, true]) {
      const { io, socket } = await rawConnect(ts.path);
      await rawHandshake(io, { structured });
      const data = Buffer.alloc(4096, structured ? 0x5a : 0xa5);
      const before = { reads: device.fastReads, writes: device.fastWrites };
      socket.write(Buffer.concat([request(Cmd.WRITE, 1, 8192, 4096), data]));
      assert.deepEqual(await readSimpleReply(io), { errno: 0, cookie: 1, data: Buffer.alloc(0) });
      socket.write(Buffer.concat([request(Cmd.WRITE, 2, 16384, 4096, CmdFlag.FUA), data]));
      assert.equal((await readSimpleReply(io)).errno, 0);
      socket.write(request(Cmd.READ, 3, 8192, 4096));
      if (structured) {
        const chunk = await readChunk(io);
        assert.equal(chunk.header.type, ReplyType.OFFSET_DATA);
        assert.equal(chunk.header.flags, ReplyFlag.DONE);
        assert.equal(chunk.header.cookieLo, 3);
        assert.equal(readU64(chunk.payload, 0), 8192);
        assert.deepEqual(chunk.payload.subarray(8), data);
      } else {
        assert.deepEqual(await readSimpleReply(io, 4096), { errno: 0, cookie: 3, data });
      }
      assert.equal(device.fastWrites - before.writes, 1, "the FUA write went the promise path");
      assert.equal(device.fastReads - before.reads, 1);
      assert.deepEqual(await readBytes(device, 16384, 4096), data, "the FUA write landed");
      socket.destroy();
    }
  } finally {
    await ts.stop();
  }
});

test("a fast path that throws is answered as a failed request; the connection goes on", async () => {
  const device = new NowMemory({ sizeBytes: 4 << 20 });
  const logger = memoryLogger();
  const ts = await startTestServer({ device, logger });
  try {
    const { io, socket } = await rawConnect(ts.path);
    await rawHandshake(io);
    device.throwNow = new MediumError("now-memory", "read", 0, 512);
    socket.write(request(Cmd.READ, 7, 0, 512));
    assert.equal((await readSimpleReply(io)).errno, Errno.EIO);
    device.throwNow = undefined;
    socket.write(request(Cmd.READ, 8, 0, 512));
    const ok = await readSimpleReply(io, 512);
    assert.deepEqual([ok.errno, ok.cookie], [0, 8]);
    socket.destroy();
  } finally {
    await ts.stop();
  }
});

test("pipelined fast answers leave batched, large ones alone; a DISC after them ends after every reply", async () => {
  const device = new NowMemory({ sizeBytes: 4 << 20 });
  const ts = await startTestServer({ device });
  try {
    const { io, socket } = await rawConnect(ts.path);
    await rawHandshake(io);
    const rand = prng(11);
    const stream: Buffer[] = [];
    const writes: Buffer[] = [];
    for (let i = 0; i < 200; i++) {
      const data = Buffer.alloc(4096);
      for (let j = 0; j < data.length; j += 512) data[j] = Math.floor(rand() * 256);
      writes.push(data);
      stream.push(request(Cmd.WRITE, i, i * 4096, 4096), data);
    }
    for (let i = 0; i < 200; i++) stream.push(request(Cmd.READ, 1000 + i, i * 4096, 4096));
    stream.push(request(Cmd.READ, 5000, 0, 256 * 1024), request(Cmd.DISC, 9999, 0, 0));
    socket.write(Buffer.concat(stream));
    // Replies may come in any order (a large read leaves alone, the batch at the end of its pump).
    const got = new Map<number, Buffer>();
    for (let n = 0; n < 401; n++) {
      const r = await readSimpleReply(io);
      assert.equal(r.errno, 0);
      const bytes = r.cookie === 5000 ? 256 * 1024 : r.cookie >= 1000 ? 4096 : 0;
      got.set(r.cookie, bytes > 0 ? await io.readExact(bytes) : Buffer.alloc(0));
    }
    for (let i = 0; i < 200; i++) {
      assert.equal(got.get(i)?.length, 0, `write ${i} answered`);
      assert.ok(got.get(1000 + i)?.equals(writes[i]!), `read ${i}`);
    }
    assert.ok(got.get(5000)?.equals(Buffer.concat(writes.slice(0, 64))), "the large read");
    await closed(socket);
    assert.equal(device.fastReads, 201);
  } finally {
    await ts.stop();
  }
});

test("a write payload in one received chunk is written where it lies; split or refused, from a copy", async () => {
  const device = new NowMemory({ sizeBytes: 4 << 20 });
  const ts = await startTestServer({ device });
  try {
    const { io, socket } = await rawConnect(ts.path);
    await rawHandshake(io);
    const rand = prng(5);
    const FRAMES = 128;
    const REFUSED = 32;
    const expected = Buffer.alloc(FRAMES * 4096);
    const frames: Buffer[] = [];
    for (let i = 0; i < FRAMES; i++) {
      const data = expected.subarray(i * 4096, (i + 1) * 4096);
      for (let j = 0; j < data.length; j++) data[j] = Math.floor(rand() * 256);
      frames.push(Buffer.concat([request(Cmd.WRITE, i, i * 4096, 4096), data]));
    }
    // All sent at once (more than the 256 KiB receive buffer), in pieces of 1 to 9000 bytes. The fast
    // path refuses the first REFUSED writes, whose promise path waits until every later write was
    // answered, so the server has read (and reused its receive buffer for) all the rest meanwhile:
    // only a copy of their payloads survives that.
    device.refuseWrites = true;
    device.onWrite = (offsetBytes) => {
      if (offsetBytes >= REFUSED * 4096) device.refuseWrites = false;
    };
    const gate = deferred();
    device.writeGate = gate.promise;
    const all = Buffer.concat(frames);
    for (let at = 0; at < all.length;) {
      const n = 1 + Math.floor(rand() * 9000);
      socket.write(all.subarray(at, at + n));
      at += n;
    }
    const cookies: number[] = [];
    for (let i = 0; i < FRAMES; i++) {
      if (i === FRAMES - REFUSED) gate.resolve();
      const r = await readSimpleReply(io);
      assert.equal(r.errno, 0);
      cookies.push(r.cookie);
    }
    assert.deepEqual(
      cookies.slice(0, FRAMES - REFUSED).sort((x, y) => x - y),
      Array.from({ length: FRAMES - REFUSED }, (_, i) => REFUSED + i),
      "the fast writes were answered first",
    );
    assert.equal(device.fastWrites, FRAMES - REFUSED);
    assert.ok((await readBytes(device, 0, expected.length)).equals(expected), "every payload landed intact");
    socket.destroy();
  } finally {
    await ts.stop();
  }
});

test("the export's observer gets one duration per request the device finished, fast, slow, failed or late", async () => {
  const seen: string[] = [];
  let handOvers = 0;
  const observe = (times: RequestTimes) => {
    handOvers++;
    for (let i = 0; i < times.count; i++) {
      const seconds = times.seconds[i]!;
      assert.ok(seconds >= 0 && seconds < 60, `duration ${seconds}`);
      seen.push(REQUEST_OPS[times.ops[i]!]!);
    }
  };
  const device = new NowMemory({ sizeBytes: 4 << 20 });
  const ts = await startTestServer({ device, observe });
  try {
    const { io, socket } = await rawConnect(ts.path);
    await rawHandshake(io, { structured: true });
    const data = Buffer.alloc(4096, 0x33);
    const simple = async (buf: Buffer) => {
      socket.write(buf);
      return (await readSimpleReply(io)).errno;
    };
    assert.equal(await simple(Buffer.concat([request(Cmd.WRITE, 1, 0, 4096), data])), 0);
    assert.equal(await simple(Buffer.concat([request(Cmd.WRITE, 2, 0, 4096, CmdFlag.FUA), data])), 0);
    device.refuseWrites = true;
    assert.equal(await simple(Buffer.concat([request(Cmd.WRITE, 3, 4096, 4096), data])), 0);
    device.refuseWrites = false;
    socket.write(request(Cmd.READ, 4, 0, 4096));
    assert.equal((await readChunk(io)).header.type, ReplyType.OFFSET_DATA);
    assert.equal(await simple(request(Cmd.FLUSH, 5, 0, 0)), 0);
    assert.equal(await simple(request(Cmd.TRIM, 6, 0, 4096)), 0);
    assert.equal(await simple(request(Cmd.WRITE_ZEROES, 7, 0, 4096)), 0);
    assert.equal(await simple(request(Cmd.CACHE, 8, 0, 4096)), 0);
    assert.equal(await simple(request(Cmd.FLUSH, 9, 0, 0, CmdFlag.FUA)), Errno.EINVAL, "rejected, not run");
    assert.deepEqual(seen, ["write", "write", "write", "read", "flush", "trim", "zero"]);
    // Pipelined fast answers are handed over together, not one call per request.
    seen.length = 0;
    handOvers = 0;
    const writes = Array.from({ length: 16 }, (_, i) => [request(Cmd.WRITE, 100 + i, i * 4096, 4096), data]);
    socket.write(Buffer.concat(writes.flat()));
    for (let i = 0; i < 16; i++) assert.equal((await readSimpleReply(io)).errno, 0);
    assert.deepEqual(seen, Array(16).fill("write"));
    assert.ok(handOvers < 16, `${handOvers} hand-overs for 16 pipelined writes`);
    socket.destroy();
  } finally {
    await ts.stop();
  }

  // A failed request and one answered past its deadline are observed once the device finishes.
  seen.length = 0;
  const logger = memoryLogger();
  const slow = await startTestServer({ requestDeadlineMs: 40, logger, observe });
  try {
    const { io, socket } = await rawConnect(slow.path);
    await rawHandshake(io);
    slow.device.failWith = new MediumError("controlled", "write", 0, 4096);
    socket.write(Buffer.concat([request(Cmd.WRITE, 1, 0, 4096), Buffer.alloc(4096)]));
    assert.equal((await readSimpleReply(io)).errno, Errno.EIO);
    slow.device.failWith = undefined;
    const gate = deferred();
    slow.device.gate = gate.promise;
    socket.write(request(Cmd.READ, 2, 0, 512));
    assert.equal((await readSimpleReply(io)).errno, Errno.EIO, "deadline");
    assert.deepEqual(seen, ["write"], "the late read is not finished yet");
    slow.device.gate = undefined;
    gate.resolve();
    socket.write(request(Cmd.FLUSH, 3, 0, 0));
    assert.equal((await readSimpleReply(io)).errno, 0);
    assert.deepEqual(seen, ["write", "read", "flush"]);
    socket.destroy();
  } finally {
    await slow.stop();
  }

  // An observer that throws fails no request and is logged once.
  const quiet = memoryLogger();
  const broken = await startTestServer({
    logger: quiet,
    observe: () => {
      throw new Error("observer bug");
    },
  });
  try {
    const { io, socket } = await rawConnect(broken.path);
    await rawHandshake(io);
    for (let cookie = 1; cookie <= 3; cookie++) {
      socket.write(request(Cmd.FLUSH, cookie, 0, 0));
      assert.deepEqual((await readSimpleReply(io)).errno, 0);
    }
    assert.equal(quiet.lines.filter((l) => l.message.includes("observer")).length, 1);
    socket.destroy();
  } finally {
    await broken.stop();
  }
});
