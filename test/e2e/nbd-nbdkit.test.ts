// The NBD client device against nbdkit as the remote: contract-style round trips, and a restart of
// nbdkit mid-operation that in-flight requests survive (reconnect, re-issue, no MediumError).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openNbdDevice } from "../../src/nbd/nbd-client-device.js";
import { OutOfRangeError } from "../../src/block/errors.js";
import { pseudoRandom, startNbdkit, waitForSocket } from "./nbd-support.js";

test("round trips against nbdkit memory", async () => {
  const dir = mkdtempSync(join(tmpdir(), "nbdkit-"));
  const sock = join(dir, "kit.sock");
  const kit = startNbdkit(sock, ["memory", "64M"]);
  try {
    await waitForSocket(sock, kit.exited);
    const dev = await openNbdDevice(`nbd+unix:///?socket=${sock}`);
    assert.equal(dev.sizeBytes, 64 << 20);
    assert.equal(dev.capabilities.readOnly, false);
    const data = pseudoRandom(5 << 20, 99);
    await dev.write(12345 * 512, data);
    const back = Buffer.alloc(data.length);
    await dev.read(12345 * 512, back);
    assert.deepEqual(back, data);
    // Unaligned I/O is allowed by the contract; nbdkit memory accepts it.
    await dev.write(1001, Buffer.from("hello"), { fua: true });
    const small = Buffer.alloc(5);
    await dev.read(1001, small);
    assert.equal(small.toString(), "hello");
    await dev.writeZeroes(12345 * 512, 4096);
    await dev.read(12345 * 512, back.subarray(0, 4096));
    assert.deepEqual(back.subarray(0, 4096), Buffer.alloc(4096));
    await dev.trim(32 << 20, 1 << 20);
    await dev.flush();
    await assert.rejects(dev.read((64 << 20) - 512, Buffer.alloc(1024)), OutOfRangeError);
    await dev.close();
  } finally {
    await kit.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("nbdkit killed and restarted on the same socket mid-operation: requests complete, no MediumError", async () => {
  const dir = mkdtempSync(join(tmpdir(), "nbdkit-"));
  const sock = join(dir, "kit.sock");
  const image = join(dir, "disk.img");
  const content = pseudoRandom(8 << 20, 5);
  writeFileSync(image, content);
  // Reads are delayed so that they are surely in flight when nbdkit dies.
  const args = ["--filter=delay", "file", image, "rdelay=200ms"];
  let kit = startNbdkit(sock, args);
  try {
    await waitForSocket(sock, kit.exited);
    const dev = await openNbdDevice(`nbd+unix:///?socket=${sock}`, { reconnectTimeoutMs: 15_000 });
    const reads = Array.from({ length: 8 }, (_, i) => {
      const b = Buffer.alloc(64 << 10);
      return dev.read(i * (1 << 20), b).then(() => b);
    });
    kit.child.kill("SIGKILL");
    await kit.exited;
    kit = startNbdkit(sock, args);
    await waitForSocket(sock, kit.exited);
    const results = await Promise.all(reads);
    results.forEach((b, i) => assert.deepEqual(b, content.subarray(i << 20, (i << 20) + (64 << 10))));
    assert.ok((dev.status().reconnects as number) >= 1, "the device reconnected");
    assert.equal(dev.status().errors, 0);
    await dev.write(0, Buffer.alloc(4096, 1), { fua: true });
    await dev.close();
  } finally {
    await kit.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
