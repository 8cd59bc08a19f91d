// Server handshake: every option this server knows, errors that keep parsing going, and refusals.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  decodeInfo,
  decodeServerReply,
  encodeGoRequest,
  encodeMetaContextRequest,
  encodeOption,
  readU64,
} from "./codec.js";
import { BASE_ALLOCATION, Info, Opt, Rep, TFlag } from "./protocol.js";
import { closed, rawConnect, readOptionReplies, startTestServer } from "./test-support.js";
import { NbdServer } from "./server.js";
import { MemoryDevice } from "../block/memory-device.js";
import { NbdConfigError } from "./errors.js";

async function greeted(path: string, clientFlags = 3) {
  const c = await rawConnect(path);
  const greeting = await c.io.readExact(18);
  assert.equal(greeting.toString("latin1", 0, 16), "NBDMAGICIHAVEOPT");
  assert.equal(greeting.readUInt16BE(16), 3);
  const f = Buffer.alloc(4);
  f.writeUInt32BE(clientFlags, 0);
  c.io.write(f);
  return c;
}

test("LIST, INFO with name/description/block size, unknown options, then GO", async () => {
  const ts = await startTestServer();
  try {
    const { io, socket } = await greeted(ts.path);
    io.write(encodeOption(Opt.LIST));
    const list = await readOptionReplies(io);
    assert.deepEqual(
      list.map((r) => r.type),
      [Rep.SERVER, Rep.ACK],
    );
    assert.deepEqual(decodeServerReply(list[0]!.data), { name: "disk", description: "test disk" });

    io.write(encodeOption(99, Buffer.from("junk")));
    assert.equal((await readOptionReplies(io))[0]!.type, Rep.ERR_UNSUP);
    io.write(encodeOption(Opt.EXTENDED_HEADERS));
    assert.equal((await readOptionReplies(io))[0]!.type, Rep.ERR_UNSUP);

    io.write(
      encodeOption(
        Opt.INFO,
        encodeGoRequest({ name: "", infoRequests: [Info.NAME, Info.DESCRIPTION, Info.BLOCK_SIZE] }),
      ),
    );
    const infos = (await readOptionReplies(io))
      .filter((r) => r.type === Rep.INFO)
      .map((r) => decodeInfo(r.data));
    assert.equal((infos[0] as { sizeBytes: number }).sizeBytes, 4 << 20);
    assert.deepEqual(infos.slice(1), [
      { type: Info.NAME, name: "disk" },
      { type: Info.DESCRIPTION, description: "test disk" },
      { type: Info.BLOCK_SIZE, minimum: 512, preferred: 4096, maximum: 32 << 20 },
    ]);
    const flags = (infos[0] as { transmissionFlags: number }).transmissionFlags;
    for (const f of [
      TFlag.HAS_FLAGS,
      TFlag.SEND_FLUSH,
      TFlag.SEND_FUA,
      TFlag.SEND_TRIM,
      TFlag.SEND_WRITE_ZEROES,
      TFlag.CAN_MULTI_CONN,
      TFlag.SEND_CACHE,
      TFlag.SEND_FAST_ZERO,
    ]) {
      assert.ok(flags & f, `flag ${f} advertised`);
    }
    assert.equal(flags & (TFlag.READ_ONLY | TFlag.SEND_DF), 0);

    io.write(encodeOption(Opt.GO, encodeGoRequest({ name: "nope", infoRequests: [] })));
    assert.equal((await readOptionReplies(io))[0]!.type, Rep.ERR_UNKNOWN);
    io.write(encodeOption(Opt.GO, Buffer.from([0, 0, 0, 50, 1])));
    assert.equal((await readOptionReplies(io))[0]!.type, Rep.ERR_INVALID);
    io.write(encodeOption(Opt.GO, encodeGoRequest({ name: "disk", infoRequests: [] })));
    const go = await readOptionReplies(io);
    assert.equal(go.at(-1)!.type, Rep.ACK);
    socket.destroy();
  } finally {
    await ts.stop();
  }
});

test("structured replies, meta contexts and DF flag", async () => {
  const ts = await startTestServer();
  try {
    const { io, socket } = await greeted(ts.path);
    io.write(
      encodeOption(
        Opt.SET_META_CONTEXT,
        encodeMetaContextRequest({ name: "disk", queries: [BASE_ALLOCATION] }),
      ),
    );
    assert.equal((await readOptionReplies(io))[0]!.type, Rep.ERR_INVALID, "SET needs structured replies");
    io.write(encodeOption(Opt.STRUCTURED_REPLY, Buffer.from([1])));
    assert.equal((await readOptionReplies(io))[0]!.type, Rep.ERR_INVALID);
    io.write(encodeOption(Opt.STRUCTURED_REPLY));
    assert.equal((await readOptionReplies(io))[0]!.type, Rep.ACK);
    io.write(encodeOption(Opt.LIST_META_CONTEXT, encodeMetaContextRequest({ name: "disk", queries: [] })));
    const listed = await readOptionReplies(io);
    assert.deepEqual(
      listed.map((r) => r.type),
      [Rep.META_CONTEXT, Rep.ACK],
    );
    assert.equal(listed[0]!.data.subarray(4).toString(), BASE_ALLOCATION);
    io.write(
      encodeOption(
        Opt.SET_META_CONTEXT,
        encodeMetaContextRequest({ name: "disk", queries: ["qemu:dirty-bitmap:a", BASE_ALLOCATION] }),
      ),
    );
    assert.deepEqual(
      (await readOptionReplies(io)).map((r) => r.type),
      [Rep.META_CONTEXT, Rep.ACK],
    );
    io.write(encodeOption(Opt.GO, encodeGoRequest({ name: "disk", infoRequests: [] })));
    const info = decodeInfo((await readOptionReplies(io))[0]!.data) as { transmissionFlags: number };
    assert.ok(info.transmissionFlags & TFlag.SEND_DF);
    socket.destroy();
  } finally {
    await ts.stop();
  }
});

test("EXPORT_NAME without and with NO_ZEROES; unknown export closes; ABORT acks then closes", async () => {
  const ts = await startTestServer();
  try {
    for (const [clientFlags, bytes] of [
      [1, 134],
      [3, 10],
    ] as const) {
      const { io, socket } = await greeted(ts.path, clientFlags);
      io.write(encodeOption(Opt.EXPORT_NAME, Buffer.from("disk")));
      const reply = await io.readExact(bytes);
      assert.equal(readU64(reply, 0), 4 << 20);
      socket.destroy();
    }
    const a = await greeted(ts.path);
    a.io.write(encodeOption(Opt.EXPORT_NAME, Buffer.from("missing")));
    await closed(a.socket);
    assert.equal(a.io.queue.length, 0);

    const b = await greeted(ts.path);
    b.io.write(encodeOption(Opt.ABORT));
    assert.equal((await readOptionReplies(b.io))[0]!.type, Rep.ACK);
    await closed(b.socket);

    const bad = await greeted(ts.path, 0x80);
    await closed(bad.socket);
  } finally {
    await ts.stop();
  }
});

test("oversize option payload is skipped and answered ERR_TOO_BIG; STARTTLS without TLS is ERR_UNSUP", async () => {
  const ts = await startTestServer();
  try {
    const { io, socket } = await greeted(ts.path);
    const big = 200_000;
    const header = encodeOption(Opt.INFO);
    header.writeUInt32BE(big, 12);
    io.write(header);
    io.write(Buffer.alloc(big));
    assert.equal((await readOptionReplies(io))[0]!.type, Rep.ERR_TOO_BIG);
    io.write(encodeOption(Opt.STARTTLS));
    assert.equal((await readOptionReplies(io))[0]!.type, Rep.ERR_UNSUP);
    io.write(encodeOption(Opt.LIST));
    assert.equal((await readOptionReplies(io)).at(-1)!.type, Rep.ACK);
    socket.destroy();
  } finally {
    await ts.stop();
  }
});

test("configuration is validated with the bad value named", () => {
  const device = new MemoryDevice({ sizeBytes: 1 << 20 });
  const listen = [{ kind: "unix" as const, path: "/tmp/x.sock" }];
  assert.throws(() => new NbdServer({ exports: [], listen }), NbdConfigError);
  assert.throws(
    () =>
      new NbdServer({
        exports: [
          { name: "a", device },
          { name: "a", device },
        ],
        listen,
      }),
    /"a" is used twice/,
  );
  assert.throws(
    () => new NbdServer({ exports: [{ name: "a", device, preferredBlockSize: 3000 }], listen }),
    /3000/,
  );
  assert.throws(
    () =>
      new NbdServer({
        exports: [{ name: "a", device }],
        listen: [{ kind: "tcp", host: "0.0.0.0", port: 10809 }],
      }),
    /tcp:0.0.0.0:10809 is not loopback/,
  );
  assert.ok(
    new NbdServer({
      exports: [{ name: "a", device }],
      listen: [{ kind: "tcp", host: "0.0.0.0", port: 1 }],
      allowInsecure: true,
    }),
  );
  assert.throws(
    () => new NbdServer({ exports: [{ name: "a", device }], listen, tls: {} }),
    /certificate and key, or PSK/,
  );
});

test("a client that stalls in the handshake is closed after the handshake timeout", async () => {
  const ts = await startTestServer({ handshakeTimeoutMs: 50 });
  try {
    const { io, socket } = await rawConnect(ts.path);
    await io.readExact(18);
    io.write(Buffer.from([0, 0, 0, 3]));
    io.write(encodeOption(Opt.LIST).subarray(0, 10));
    await closed(socket);
    assert.equal(socket.destroyed, true);
  } finally {
    await ts.stop();
  }
});
