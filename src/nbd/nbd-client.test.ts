// The NBD client device (src/nbd/nbd-client-device.ts) against this server: round trips, errno
// mapping, and reconnection through a proxy that drops connections mid-request.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openNbdDevice } from "./nbd-client-device.js";
import { DisconnectedError, MediumError, NoSpaceError, OpenError, ReadOnlyError } from "../block/errors.js";
import { deferred, prng, startTestServer } from "./test-support.js";

/** A Unix-socket proxy whose connections can be cut on demand. */
class Proxy {
  private readonly sockets = new Set<Socket>();
  private server: Server | undefined;
  constructor(
    readonly path: string,
    private readonly upstream: string,
  ) {}
  async listen(): Promise<void> {
    this.server = createServer((client) => {
      const up = createConnection(this.upstream);
      for (const s of [client, up]) {
        this.sockets.add(s);
        s.on("close", () => this.sockets.delete(s));
        s.on("error", () => {});
      }
      client.pipe(up).pipe(client);
      client.on("close", () => up.destroy());
      up.on("close", () => client.destroy());
    });
    await new Promise<void>((resolve) => this.server!.listen(this.path, resolve));
  }
  dropAll(): void {
    for (const s of this.sockets) s.destroy();
  }
  async close(): Promise<void> {
    this.dropAll();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server = undefined;
  }
}

const uriFor = (path: string, name = "disk") => `nbd+unix:///${name}?socket=${path}`;

test("round trips: write, read, zero, trim, flush, FUA; capabilities from transmission flags", async () => {
  const ts = await startTestServer({ sizeBytes: 8 << 20 });
  const dev = await openNbdDevice(uriFor(ts.path));
  try {
    assert.equal(dev.sizeBytes, 8 << 20);
    assert.deepEqual(dev.capabilities, {
      flush: true,
      fua: true,
      trim: true,
      writeZeroes: true,
      readOnly: false,
    });
    const rand = prng(3);
    const data = Buffer.alloc(3 << 20);
    for (let i = 0; i < data.length; i++) data[i] = Math.floor(rand() * 256);
    await dev.write(4096, data, { fua: true });
    const back = Buffer.alloc(data.length);
    await dev.read(4096, back);
    assert.deepEqual(back, data);
    await dev.writeZeroes(8192, 4096, { mayTrim: false });
    await dev.trim(1 << 20, 1 << 20);
    await dev.flush();
    const mem = Buffer.alloc(8192);
    await ts.memory.read(8192, mem);
    assert.deepEqual(mem.subarray(0, 4096), Buffer.alloc(4096));
    assert.deepEqual(mem.subarray(4096), data.subarray(8192, 12288));
    const reads = await Promise.all(
      Array.from({ length: 32 }, (_, i) => {
        const b = Buffer.alloc(512);
        return dev.read(16384 + i * 512, b).then(() => b);
      }),
    );
    reads.forEach((b, i) => assert.deepEqual(b, data.subarray(12288 + i * 512, 12800 + i * 512)));
  } finally {
    await dev.close();
    await ts.stop();
  }
});

test("server errors map to typed errors with the failing range", async () => {
  const ts = await startTestServer();
  const dev = await openNbdDevice(uriFor(ts.path));
  try {
    ts.device.failWith = new MediumError("x", "read", 0, 1);
    await assert.rejects(dev.read(65536, Buffer.alloc(4096)), (err: unknown) => {
      assert.ok(err instanceof MediumError);
      assert.deepEqual([err.op, err.offsetBytes, err.lengthBytes], ["read", 65536, 4096]);
      return true;
    });
    ts.device.failWith = new NoSpaceError("x", "full");
    await assert.rejects(dev.write(0, Buffer.alloc(512)), NoSpaceError);
    ts.device.failWith = undefined;
    ts.device.readOnly = true;
    await assert.rejects(dev.write(0, Buffer.alloc(512)), ReadOnlyError);
  } finally {
    await dev.close();
    await ts.stop();
  }
  const ro = await startTestServer();
  const roDev = await openNbdDevice(uriFor(ro.path), { readOnly: true });
  await assert.rejects(roDev.write(0, Buffer.alloc(512)), ReadOnlyError);
  await roDev.close();
  await ro.stop();
});

test("opening a missing server or export fails with OpenError", async () => {
  await assert.rejects(openNbdDevice("nbd+unix:///?socket=/nonexistent/x.sock"), OpenError);
  await assert.rejects(openNbdDevice("http://x/"), OpenError);
  const ts = await startTestServer();
  await assert.rejects(openNbdDevice(uriFor(ts.path, "nope")), /nope/);
  await ts.stop();
});

test("a dropped connection is re-established and in-flight requests are re-issued", async () => {
  const ts = await startTestServer();
  const proxy = new Proxy(join(ts.path, "..", "proxy.sock"), ts.path);
  await proxy.listen();
  const dev = await openNbdDevice(uriFor(proxy.path), { reconnectTimeoutMs: 5000 });
  try {
    await dev.write(0, Buffer.alloc(4096, 0x11));
    const gate = deferred();
    ts.device.gate = gate.promise;
    const write = dev.write(4096, Buffer.alloc(4096, 0x22));
    const read = Buffer.alloc(4096);
    const reading = dev.read(0, read);
    while (ts.device.started < 3) await new Promise((r) => setImmediate(r));
    proxy.dropAll();
    ts.device.gate = undefined;
    gate.resolve();
    await Promise.all([write, reading]);
    assert.deepEqual(read, Buffer.alloc(4096, 0x11));
    const back = Buffer.alloc(4096);
    await dev.read(4096, back);
    assert.deepEqual(back, Buffer.alloc(4096, 0x22));
    assert.ok((dev.status().reconnects as number) >= 1);
  } finally {
    await dev.close();
    await proxy.close();
    await ts.stop();
  }
});

test("if reconnection fails within the window, requests fail with DisconnectedError (not MediumError)", async () => {
  const ts = await startTestServer();
  const proxy = new Proxy(join(ts.path, "..", "proxy.sock"), ts.path);
  await proxy.listen();
  const dev = await openNbdDevice(uriFor(proxy.path), { reconnectTimeoutMs: 300 });
  try {
    const gate = deferred();
    ts.device.gate = gate.promise;
    const reading = dev.read(0, Buffer.alloc(512));
    while (ts.device.started < 1) await new Promise((r) => setImmediate(r));
    await proxy.close();
    await assert.rejects(
      reading,
      (err: unknown) => err instanceof DisconnectedError && err.code === "EDISCONNECTED",
    );
    gate.resolve();
  } finally {
    await dev.close();
    await ts.stop();
  }
});

test("the client negotiates structured replies: reads arrive as chunks, read errors as ERROR chunks", async () => {
  const ts = await startTestServer({ sizeBytes: 1 << 20 });
  try {
    const dev = await openNbdDevice(uriFor(ts.path));
    assert.equal(dev.status().structuredReplies, true);
    const data = Buffer.alloc(64 * 1024);
    for (let i = 0; i < data.length; i++) data[i] = (i * 13) & 0xff;
    await dev.write(4096, data);
    const back = Buffer.alloc(data.length);
    await dev.read(4096, back);
    assert.deepEqual(back, data);
    ts.device.failWith = new MediumError("controlled", "read", 0, 4096);
    await assert.rejects(dev.read(0, new Uint8Array(4096)), MediumError);
    await dev.close();
  } finally {
    await ts.stop();
  }
});

test("nbds+unix:// with a PSK file: the client speaks TLS to a server that requires it", async () => {
  const dir = mkdtempSync(join(tmpdir(), "nbd-client-psk-"));
  const keys = join(dir, "keys.psk");
  const wrong = join(dir, "wrong.psk");
  writeFileSync(keys, `alice:${"ab".repeat(32)}\n`);
  writeFileSync(wrong, `alice:${"cd".repeat(32)}\n`);
  const ts = await startTestServer({ sizeBytes: 1 << 20, tls: { pskFile: keys } });
  try {
    const uri = (file: string) => `nbds+unix://alice@/disk?socket=${ts.path}&tls-psk-file=${file}`;
    await assert.rejects(openNbdDevice(uriFor(ts.path)), OpenError, "plaintext is refused by the server");
    await assert.rejects(openNbdDevice(uri(wrong)), OpenError, "a wrong key fails the TLS handshake");
    const dev = await openNbdDevice(uri(keys));
    assert.equal(dev.status().tls, true);
    await dev.write(0, Buffer.alloc(4096, 7));
    const back = Buffer.alloc(4096);
    await dev.read(0, back);
    assert.deepEqual(back, Buffer.alloc(4096, 7));
    assert.equal(dev.describe(), uri(keys));
    await dev.close();
  } finally {
    await ts.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a write re-sent after a reconnect is fenced: a later overlapping write goes only after it", async () => {
  const ts = await startTestServer();
  const proxy = new Proxy(join(ts.path, "..", "proxy.sock"), ts.path);
  await proxy.listen();
  const dev = await openNbdDevice(uriFor(proxy.path), { reconnectTimeoutMs: 5000 });
  try {
    const gate = deferred();
    ts.device.gate = gate.promise;
    const first = dev.write(8192, Buffer.alloc(4096, 0xaa));
    while (ts.device.started < 1) await new Promise((r) => setImmediate(r));
    proxy.dropAll(); // the server still holds the first copy; the client re-sends it
    while (ts.device.started < 2) await new Promise((r) => setImmediate(r));
    const second = dev.write(8192, Buffer.alloc(4096, 0xbb));
    const disjoint = dev.write(0, Buffer.alloc(4096, 0xcc));
    while (ts.device.started < 3) await new Promise((r) => setImmediate(r));
    assert.equal(dev.status().fencedRequests, 1, "only the overlapping write waits");
    assert.equal(ts.device.started, 3, "the overlapping write was not sent while the re-send is open");
    ts.device.gate = undefined;
    gate.resolve();
    await Promise.all([first, second, disjoint]);
    const back = Buffer.alloc(4096);
    await dev.read(8192, back);
    assert.deepEqual(back, Buffer.alloc(4096, 0xbb), "the later write landed last");
    assert.ok((dev.status().resentRequests as number) >= 1);
  } finally {
    await dev.close();
    await proxy.close();
    await ts.stop();
  }
});
