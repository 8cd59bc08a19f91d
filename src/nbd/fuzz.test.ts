// Seeded fuzzing of the server in both phases: malformed handshakes, bad flags, oversize and
// truncated options, bad magic, random requests and random bytes. Each case ends by the
// connection closing (we half-close; the server must close too); a good connection keeps working.
import { test } from "node:test";
import assert from "node:assert/strict";
import { encodeGoRequest, encodeMetaContextRequest, encodeOption } from "./codec.js";
import { BASE_ALLOCATION, Cmd, IHAVEOPT, Opt, OPTION_REPLY_MAGIC } from "./protocol.js";
import {
  closed,
  prng,
  rawConnect,
  rawHandshake,
  readSimpleReply,
  request,
  startTestServer,
  type TestServer,
} from "./test-support.js";
import type { SocketIo } from "./socket-io.js";

const HANDSHAKE_CASES = 4000;
const TRANSMISSION_CASES = 16000;
const PARALLEL = 16;

type Rand = () => number;
const int = (rand: Rand, n: number) => Math.floor(rand() * n);

function randomBytes(rand: Rand, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = int(rand, 256);
  return b;
}

function flags(rand: Rand): Buffer {
  const b = Buffer.alloc(4);
  const choice = int(rand, 10);
  b.writeUInt32BE(choice < 7 ? 3 : choice === 7 ? 1 : int(rand, 2 ** 32), 0);
  return b;
}

/** A random option: known or unknown code, honest or lying length, sometimes truncated. */
function option(rand: Rand): Buffer {
  const codes = [
    Opt.EXPORT_NAME,
    Opt.ABORT,
    Opt.LIST,
    Opt.STARTTLS,
    Opt.INFO,
    Opt.GO,
    Opt.STRUCTURED_REPLY,
    Opt.LIST_META_CONTEXT,
    Opt.SET_META_CONTEXT,
    0,
    4,
    11,
    12,
    0x7fffffff,
  ];
  const code = rand() < 0.9 ? codes[int(rand, codes.length)]! : int(rand, 2 ** 32);
  let data: Buffer;
  switch (int(rand, 4)) {
    case 0:
      data = encodeGoRequest({
        name: rand() < 0.5 ? "disk" : "x",
        infoRequests: [int(rand, 5), int(rand, 65536)],
      });
      break;
    case 1:
      data = encodeMetaContextRequest({
        name: "disk",
        queries: [BASE_ALLOCATION, "base:", "x:y"].slice(0, int(rand, 4)),
      });
      break;
    case 2:
      data = randomBytes(rand, int(rand, 40));
      break;
    default:
      data = Buffer.alloc(0);
  }
  if (rand() < 0.3 && data.length > 0) data[int(rand, data.length)] ^= 1 << int(rand, 8);
  const frame = encodeOption(code, data);
  const lie = int(rand, 10);
  if (lie === 0) frame.writeUInt32BE(int(rand, 2 ** 32), 12);
  else if (lie === 1) frame.writeUInt32BE(data.length + 1 + int(rand, 100), 12);
  else if (lie === 2) frame.writeBigUInt64BE(IHAVEOPT ^ 1n, 0);
  return frame;
}

function handshakeInput(rand: Rand): Buffer {
  const kind = int(rand, 5);
  if (kind === 0) return randomBytes(rand, int(rand, 64));
  const parts = [flags(rand)];
  const n = 1 + int(rand, 4);
  for (let i = 0; i < n; i++) parts.push(option(rand));
  let all = Buffer.concat(parts);
  if (kind === 1) all = all.subarray(0, int(rand, all.length + 1));
  if (kind === 2 && all.length > 0) all[int(rand, all.length)] ^= 0xff;
  return all;
}

/** A random request: valid types mostly, random flags, offsets around the end, odd lengths. */
function transmissionRequest(rand: Rand, sizeBytes: number, cookie: number): Buffer {
  const type = rand() < 0.9 ? int(rand, 8) : int(rand, 65536);
  const flagBits = rand() < 0.6 ? 0 : int(rand, 65536);
  const offset = [0, sizeBytes - 512, sizeBytes, int(rand, sizeBytes), 2 ** 53, int(rand, 2 ** 32)][
    int(rand, 6)
  ]!;
  const length = [0, 1, 512, 4096, int(rand, 70000), 2 ** 32 - 1][int(rand, 6)]!;
  if (type === Cmd.DISC) return request(Cmd.FLUSH, cookie, 0, 0);
  const header = request(type, cookie, offset, length, flagBits);
  if (type === Cmd.WRITE && length <= 70000) return Buffer.concat([header, randomBytes(rand, length)]);
  if (type === Cmd.WRITE) return header.subarray(0, 0);
  if (rand() < 0.01) header[int(rand, 4)] ^= 0x10; // bad magic: the server closes
  return header;
}

/** Write `input`, half-close, and wait for the server to close; returns what the server sent. */
async function runCase(
  ts: TestServer,
  setup: (io: SocketIo) => Promise<void>,
  input: Buffer,
): Promise<Buffer> {
  const { socket, io } = await rawConnect(ts.path);
  const received: Buffer[] = [];
  await setup(io);
  io.onReadable = () => received.push(...io.queue.drain());
  io.onReadable();
  socket.end(input);
  await closed(socket);
  return Buffer.concat(received);
}

/** Option replies the server sent in the handshake must be well-formed frames. */
function checkHandshakeReplies(out: Buffer): number {
  if (out.length === 0) return 0;
  assert.ok(out.length >= 18 && out.toString("latin1", 0, 16) === "NBDMAGICIHAVEOPT", "greeting first");
  let at = 18;
  let frames = 0;
  while (out.length - at >= 20 && out.readBigUInt64BE(at) === OPTION_REPLY_MAGIC) {
    const type = out.readUInt32BE(at + 12);
    assert.ok(type <= 4 || (type >= 0x80000001 && type <= 0x80000009), `reply type 0x${type.toString(16)}`);
    at += 20 + out.readUInt32BE(at + 16);
    frames++;
  }
  return frames;
}

async function goodRoundTrip(
  good: Awaited<ReturnType<typeof rawConnect>>,
  rand: Rand,
  n: number,
): Promise<void> {
  const offset = int(rand, 2000) * 512;
  const data = randomBytes(rand, 512);
  good.socket.write(Buffer.concat([request(Cmd.WRITE, n, offset, 512), data]));
  assert.equal((await readSimpleReply(good.io)).errno, 0);
  good.socket.write(request(Cmd.READ, n + 1, offset, 512));
  assert.deepEqual((await readSimpleReply(good.io, 512)).data, data);
}

test(
  "fuzz: malformed input never crashes or hangs the server; a good connection keeps working",
  { timeout: 120_000 },
  async (t) => {
    const ts = await startTestServer({ sizeBytes: 2 << 20 });
    try {
      const good = await rawConnect(ts.path);
      await rawHandshake(good.io, { structured: false });
      const rand = prng(20260101);
      let cases = 0;
      let replyFrames = 0;
      const greeted = async () => {};
      for (let batch = 0; cases < HANDSHAKE_CASES; batch++) {
        const inputs = Array.from({ length: PARALLEL }, () => handshakeInput(rand));
        const outs = await Promise.all(inputs.map((input) => runCase(ts, greeted, input)));
        for (const out of outs) replyFrames += checkHandshakeReplies(out);
        cases += inputs.length;
        if (batch % 20 === 0) await goodRoundTrip(good, rand, batch * 2);
      }
      let requests = 0;
      for (let batch = 0; requests < TRANSMISSION_CASES; batch++) {
        const perConn = 50;
        const jobs = Array.from({ length: PARALLEL / 2 }, () => {
          const structured = rand() < 0.5;
          const reqs = Array.from({ length: perConn }, (_, i) =>
            transmissionRequest(rand, ts.memory.sizeBytes, i),
          );
          const tail = rand() < 0.2 ? randomBytes(rand, int(rand, 100)) : Buffer.alloc(0);
          const setup = async (io: SocketIo) => void (await rawHandshake(io, { structured }));
          return runCase(ts, setup, Buffer.concat([...reqs, tail]));
        });
        await Promise.all(jobs);
        requests += (PARALLEL / 2) * perConn;
        if (batch % 5 === 0) await goodRoundTrip(good, rand, 100000 + batch * 2);
      }
      await goodRoundTrip(good, rand, 999999);
      t.diagnostic(
        `handshake cases: ${cases}, transmission requests: ${requests}, option reply frames checked: ${replyFrames}`,
      );
      assert.ok(cases + requests >= 20000);
      assert.ok(replyFrames > 1000);
      good.socket.destroy();
    } finally {
      await ts.stop();
    }
  },
);
