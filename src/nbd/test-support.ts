// Helpers for the NBD unit tests: a controllable device layer, a server on a temp Unix socket,
// and a raw protocol client that speaks frames directly (no production client code involved).
import { mkdtempSync, rmSync } from "node:fs";
import { createConnection, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BlockDevice, WriteOptions } from "../block/block-device.js";
import { LayerDevice } from "../block/base-device.js";
import { MemoryDevice } from "../block/memory-device.js";
import {
  decodeInfo,
  decodeOptionReplyHeader,
  decodeReplyHeader,
  encodeGoRequest,
  encodeMetaContextRequest,
  encodeOption,
  encodeRequest,
  type NbdRequest,
  type ReplyHeader,
} from "./codec.js";
import type { RequestTimesObserver } from "../core/request-times.js";
import type { NbdLogger } from "./logger.js";
import {
  Info,
  OPTION_REPLY_HEADER_BYTES,
  Opt,
  Rep,
  BASE_ALLOCATION,
  SIMPLE_REPLY_BYTES,
} from "./protocol.js";
import { NbdServer, type NbdServerOptions } from "./server.js";
import { SocketIo } from "./socket-io.js";

/** Deterministic PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A layer whose operations can be held at a gate, failed on demand, and counted. */
export class ControlledDevice extends LayerDevice {
  readonly name = "controlled";
  /** Its capabilities are its own (readOnly below), and it has no fast path. */
  protected override readonly fastChecksBelow = false;
  /** When set, every read/write waits for this promise first. */
  gate: Promise<void> | undefined;
  /** When set, the next operations throw this error. */
  failWith: Error | undefined;
  active = 0;
  maxActive = 0;
  started = 0;
  readOnly = false;

  override get capabilities() {
    return { ...this.lower.capabilities, readOnly: this.readOnly };
  }

  private async around<T>(fn: () => Promise<T>): Promise<T> {
    this.started++;
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    try {
      if (this.gate) await this.gate;
      if (this.failWith) throw this.failWith;
      return await fn();
    } finally {
      this.active--;
    }
  }
  protected override _read(offsetBytes: number, target: Uint8Array): Promise<void> {
    return this.around(() => super._read(offsetBytes, target));
  }
  protected override _write(offsetBytes: number, data: Uint8Array, options: WriteOptions): Promise<void> {
    return this.around(() => super._write(offsetBytes, data, options));
  }
  describe(): string {
    return "controlled";
  }
}

/** A promise with its resolver exposed. */
export function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** A logger that records lines for assertions. */
export function memoryLogger(): NbdLogger & {
  lines: { level: string; message: string; fields?: Record<string, unknown> }[];
} {
  const lines: { level: string; message: string; fields?: Record<string, unknown> }[] = [];
  return {
    lines,
    info: (message, fields) => lines.push({ level: "info", message, fields }),
    warn: (message, fields) => lines.push({ level: "warn", message, fields }),
    error: (message, fields) => lines.push({ level: "error", message, fields }),
  };
}

/** A running test server on a temp Unix socket. */
export interface TestServer {
  readonly server: NbdServer;
  readonly path: string;
  readonly device: ControlledDevice;
  readonly memory: MemoryDevice;
  stop(): Promise<void>;
}

/** Start a server on a fresh temp socket over a ControlledDevice(MemoryDevice(sizeBytes)). */
export async function startTestServer(
  overrides: Partial<NbdServerOptions> & {
    sizeBytes?: number;
    device?: BlockDevice;
    observe?: RequestTimesObserver;
  } = {},
): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), "nbd-test-"));
  const path = join(dir, "nbd.sock");
  const memory = new MemoryDevice({ sizeBytes: overrides.sizeBytes ?? 4 << 20 });
  const device = new ControlledDevice(memory);
  const server = new NbdServer({
    exports: [
      {
        name: "disk",
        device: overrides.device ?? device,
        description: "test disk",
        preferredBlockSize: 4096,
        ...(overrides.observe ? { observe: overrides.observe } : {}),
      },
    ],
    listen: [{ kind: "unix", path }],
    ...overrides,
  });
  await server.start();
  return {
    server,
    path,
    device,
    memory,
    async stop() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Open a raw socket wrapped in SocketIo. */
export async function rawConnect(path: string): Promise<{ socket: Socket; io: SocketIo }> {
  const socket = createConnection(path);
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  const io = new SocketIo(socket, () => {});
  return { socket, io };
}

/** Read one option reply (header + data). */
export async function readOptionReply(io: SocketIo): Promise<{ option: number; type: number; data: Buffer }> {
  const h = decodeOptionReplyHeader(await io.readExact(OPTION_REPLY_HEADER_BYTES));
  return { option: h.option, type: h.type, data: await io.readExact(h.lengthBytes) };
}

/** Read option replies up to and including the final ACK or error. */
export async function readOptionReplies(
  io: SocketIo,
): Promise<{ option: number; type: number; data: Buffer }[]> {
  const out = [];
  for (;;) {
    const r = await readOptionReply(io);
    out.push(r);
    if (r.type === Rep.ACK || r.type >= 0x80000000) return out;
  }
}

/** Negotiate with GO: optional structured replies and base:allocation; returns size and flags. */
export async function rawHandshake(
  io: SocketIo,
  options: { structured?: boolean; exportName?: string } = {},
): Promise<{ sizeBytes: number; flags: number }> {
  await io.readExact(18);
  io.write(Buffer.from([0, 0, 0, 3]));
  const name = options.exportName ?? "disk";
  if (options.structured) {
    io.write(encodeOption(Opt.STRUCTURED_REPLY));
    await readOptionReplies(io);
    io.write(
      encodeOption(Opt.SET_META_CONTEXT, encodeMetaContextRequest({ name, queries: [BASE_ALLOCATION] })),
    );
    await readOptionReplies(io);
  }
  io.write(encodeOption(Opt.GO, encodeGoRequest({ name, infoRequests: [Info.BLOCK_SIZE] })));
  let sizeBytes = -1;
  let flags = 0;
  for (const r of await readOptionReplies(io)) {
    if (r.type !== Rep.INFO) continue;
    const info = decodeInfo(r.data);
    if ("sizeBytes" in info) {
      sizeBytes = info.sizeBytes;
      flags = info.transmissionFlags;
    }
  }
  if (sizeBytes < 0) throw new Error("GO failed");
  return { sizeBytes, flags };
}

/** Encode a request with a small numeric cookie. */
export function request(
  type: number,
  cookie: number,
  offsetBytes: number,
  lengthBytes: number,
  flags = 0,
): Buffer {
  const req: NbdRequest = { type, flags, cookieHi: 0, cookieLo: cookie, offsetBytes, lengthBytes };
  return encodeRequest(req);
}

/** Read one simple reply; `dataBytes` of payload follow a successful one when given. */
export async function readSimpleReply(
  io: SocketIo,
  dataBytes = 0,
): Promise<{ errno: number; cookie: number; data: Buffer }> {
  const h = decodeReplyHeader(await io.readExact(SIMPLE_REPLY_BYTES));
  if (h.kind !== "simple") throw new Error("expected a simple reply");
  const data = h.errno === 0 && dataBytes > 0 ? await io.readExact(dataBytes) : Buffer.alloc(0);
  return { errno: h.errno, cookie: h.cookieLo, data };
}

/** Read one structured chunk (header + payload). */
export async function readChunk(
  io: SocketIo,
): Promise<{ header: ReplyHeader & { kind: "structured" }; payload: Buffer }> {
  const first = await io.readExact(4);
  const rest = await io.readExact(first.readUInt32BE(0) === 0x67446698 ? 12 : 16);
  const header = decodeReplyHeader(Buffer.concat([first, rest]));
  if (header.kind !== "structured") throw new Error(`expected a structured chunk, got errno ${header.errno}`);
  return { header, payload: await io.readExact(header.lengthBytes) };
}

/** Resolve when the socket has closed (used to bound fuzz cases by events, not sleeps). */
export function closed(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed) return resolve();
    socket.once("close", () => resolve());
  });
}
