import { test } from "node:test";
import assert from "node:assert/strict";
import { MeasuredDevice } from "./measured-device.js";
import { MemoryDevice } from "./memory-device.js";
import { runBlockDeviceContract } from "./contract.js";

runBlockDeviceContract("MeasuredDevice", async () => ({
  device: new MeasuredDevice(new MemoryDevice({ sizeBytes: 4 << 20 }), () => {}),
}));

test("MeasuredDevice observes one duration per request, failures included", async () => {
  const seen: string[] = [];
  const device = new MeasuredDevice(new MemoryDevice({ sizeBytes: 1 << 20 }), (op, seconds) => {
    assert.ok(seconds >= 0);
    seen.push(op);
  });
  await device.write(0, new Uint8Array(4096));
  await device.read(0, new Uint8Array(512));
  await device.flush();
  await device.trim(0, 4096);
  await device.writeZeroes(4096, 4096);
  assert.deepEqual(seen, ["write", "read", "flush", "trim", "zero"]);
  await device.close();
});
