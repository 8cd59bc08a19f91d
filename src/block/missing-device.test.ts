import { test } from "node:test";
import assert from "node:assert/strict";
import { MediumError, MissingDeviceError } from "./errors.js";
import { MissingDevice } from "./missing-device.js";

test("a missing device has its recorded size and fails every I/O like a bad block (EMEDIUM)", async () => {
  const d = new MissingDevice({ sizeBytes: 1 << 20, name: "missing spare 1 (u, last seen as /dev/sdc1)" });
  assert.equal(d.sizeBytes, 1 << 20);
  assert.equal(d.describe(), "missing spare 1 (u, last seen as /dev/sdc1)");
  for (const op of [
    () => d.read(4096, new Uint8Array(512)),
    () => d.write(0, new Uint8Array(512)),
    () => d.flush(),
  ]) {
    await assert.rejects(op(), (err: unknown) => {
      assert.ok(err instanceof MissingDeviceError && err instanceof MediumError);
      assert.equal(err.code, "EMEDIUM");
      assert.match(err.message, /missing spare 1 .* is missing: (read|write|flush)/);
      return true;
    });
  }
  await d.close();
});
