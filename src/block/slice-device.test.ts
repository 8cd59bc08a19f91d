// Unit tests of SliceDevice: offset mapping, validation messages, describe() and shared lowers.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { readBytes } from "./base-device.js";
import { OutOfRangeError, SpecError } from "./errors.js";
import { MemoryDevice } from "./memory-device.js";
import { SliceDevice } from "./slice-device.js";

const MiB = 1 << 20;

describe("SliceDevice", () => {
  it("maps every request onto its window of the lower device", async () => {
    const lower = new MemoryDevice({ sizeBytes: 4 * MiB });
    const slice = new SliceDevice(lower, { offsetBytes: MiB, lengthBytes: 2 * MiB });
    assert.equal(slice.sizeBytes, 2 * MiB);
    await slice.write(0, new Uint8Array(512).fill(1));
    await slice.write(2 * MiB - 512, new Uint8Array(512).fill(2));
    assert.ok((await readBytes(lower, MiB, 512)).every((b) => b === 1));
    assert.ok((await readBytes(lower, 3 * MiB - 512, 512)).every((b) => b === 2));
    await slice.writeZeroes(0, 256);
    await slice.trim(2 * MiB - 512, 512);
    assert.deepEqual([...(await readBytes(lower, MiB + 255, 2))], [0, 1]);
    assert.ok((await readBytes(lower, 3 * MiB - 512, 512)).every((b) => b === 0));
    await assert.rejects(slice.read(2 * MiB - 1, new Uint8Array(2)), OutOfRangeError);
    assert.equal(slice.describe(), "slice:offset=1M,length=2M:mem:4M");
    assert.equal(slice.status().offsetBytes, MiB);
  });

  it("extends to the end of the lower device when no length is given", () => {
    const lower = new MemoryDevice({ sizeBytes: 4 * MiB });
    const tail = new SliceDevice(lower, { offsetBytes: 3 * MiB + 512 });
    assert.equal(tail.sizeBytes, MiB - 512);
  });

  it("names bad offsets and lengths", () => {
    const lower = new MemoryDevice({ sizeBytes: 4 * MiB });
    const cases: [number, number | undefined, RegExp][] = [
      [100, undefined, /offset 100 is not a non-negative multiple of 512/],
      [-512, undefined, /offset -512 is not a non-negative multiple of 512/],
      [4 * MiB, undefined, /offset 4194304 is not inside the device \(size 4194304\)/],
      [0, 1000, /length 1000 is not a positive multiple of 512/],
      [0, 0, /length 0 is not a positive multiple of 512/],
      [3 * MiB, 2 * MiB, /offset 3145728 \+ length 2097152 = 5242880 is past the end of the device/],
    ];
    for (const [offsetBytes, lengthBytes, message] of cases) {
      assert.throws(
        () => new SliceDevice(lower, { offsetBytes, lengthBytes }),
        (e: unknown) => e instanceof SpecError && message.test(e.message),
        `offset ${offsetBytes} length ${lengthBytes}`,
      );
    }
  });

  it("leaves a shared lower device open when closeLower is false", async () => {
    const lower = new MemoryDevice({ sizeBytes: 4 * MiB });
    const a = new SliceDevice(lower, { offsetBytes: 0, lengthBytes: 2 * MiB, closeLower: false });
    const b = new SliceDevice(lower, { offsetBytes: 2 * MiB, closeLower: false });
    await a.close();
    await b.write(0, new Uint8Array(1).fill(9));
    assert.equal((await readBytes(lower, 2 * MiB, 1))[0], 9);
    await b.close();
    assert.equal(lower.status().closed, false);
    const owner = new SliceDevice(lower, { offsetBytes: 0 });
    await owner.close();
    assert.equal(lower.status().closed, true);
  });
});
