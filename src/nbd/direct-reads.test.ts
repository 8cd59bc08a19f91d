// Large WRITE payloads read from the socket straight into their buffer (receive-buffer.ts
// DirectReads): through the real server's socket, pipelined with small requests, the data is exact
// and most of the large payloads' bytes took the direct path.
import { test } from "node:test";
import assert from "node:assert/strict";
import { openNbdDevice } from "./nbd-client-device.js";
import type { NbdLogger } from "./logger.js";
import { Cmd } from "./protocol.js";
import { memoryLogger, prng, rawConnect, rawHandshake, request, startTestServer } from "./test-support.js";
import { DIRECT_READ_MIN_BYTES } from "./transmission.js";

/** A logger keeping every line, and the counters of each closed connection. */
function closedStats(): { logger: NbdLogger; closed: () => Record<string, unknown>[] } {
  const logger = memoryLogger();
  const closed = () =>
    logger.lines.filter((l) => l.message === "nbd connection closed").map((l) => l.fields ?? {});
  return { logger, closed };
}

async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setImmediate(resolve));
}

test("large WRITE payloads are read straight into their buffers; pipelined small requests stay exact", async () => {
  const { logger, closed } = closedStats();
  const ts = await startTestServer({ sizeBytes: 32 << 20, logger });
  const rand = prng(11);
  const fill = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(rand() * 256)));
  try {
    const dev = await openNbdDevice(`nbd+unix:///disk?socket=${ts.path}`);
    // Large payloads of awkward sizes, at unaligned offsets, pipelined with 4 KiB writes and reads.
    const large = [
      { at: 0, data: fill(3 << 20) },
      { at: (4 << 20) + 512, data: fill((1 << 20) + 4096 + 7) },
      { at: 8 << 20, data: fill(DIRECT_READ_MIN_BYTES * 2 + 1) },
      { at: 12 << 20, data: fill(8 << 20) },
    ];
    const small = Array.from({ length: 64 }, (_, i) => ({ at: (24 << 20) + i * 8192, data: fill(4096) }));
    await Promise.all([
      ...large.map((w) => dev.write(w.at, w.data)),
      ...small.map((w) => dev.write(w.at, w.data)),
    ]);
    for (const w of [...large, ...small]) {
      const back = Buffer.alloc(w.data.length);
      await ts.memory.read(w.at, back);
      assert.ok(back.equals(w.data), `data at ${w.at} (${w.data.length} bytes)`);
    }
    await dev.close();
    await until(() => closed().length === 1);
    const stats = closed()[0]!;
    const largeBytes = (3 << 20) + (1 << 20) + 4096 + 7 + DIRECT_READ_MIN_BYTES * 2 + 1 + (8 << 20);
    assert.equal(stats["bytesWritten"], largeBytes + 64 * 4096);
    // Every payload byte past the first receive buffer's worth of each large WRITE could go direct;
    // at least half of them must have (the rest came with the header or after a small request).
    assert.ok(
      (stats["directBytes"] as number) >= largeBytes / 2,
      `direct ${String(stats["directBytes"])} of ${largeBytes} large-payload bytes`,
    );
  } finally {
    await ts.stop();
  }
});

test("a client gone in the middle of a large payload: nothing is written, the next client is served", async () => {
  const { logger, closed } = closedStats();
  const ts = await startTestServer({ sizeBytes: 8 << 20, logger });
  try {
    const { socket, io } = await rawConnect(ts.path);
    await rawHandshake(io);
    // A 4 MiB WRITE whose payload stops after 1 MiB (most of it read direct), then the peer leaves.
    io.write(request(Cmd.WRITE, 1, 0, 4 << 20));
    io.write(Buffer.alloc(1 << 20, 0x5a));
    await until(() => io.stream.writableLength === 0);
    socket.destroy();
    await until(() => closed().length === 1);
    assert.ok((closed()[0]!["directBytes"] as number) > 0, "part of the payload was read direct");
    assert.equal(closed()[0]!["bytesWritten"], 0);
    const head = Buffer.alloc(4096);
    await ts.memory.read(0, head);
    assert.ok(head.equals(Buffer.alloc(4096)), "no byte of the unfinished WRITE reached the device");
    const again = await openNbdDevice(`nbd+unix:///disk?socket=${ts.path}`);
    const data = Buffer.alloc(2 << 20, 0xc3);
    await again.write(4096, data);
    const back = Buffer.alloc(data.length);
    await again.read(4096, back);
    assert.ok(back.equals(data));
    await again.close();
  } finally {
    await ts.stop();
  }
});
