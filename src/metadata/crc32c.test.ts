import { test } from "node:test";
import assert from "node:assert/strict";
import { crc32c } from "./crc32c.js";

function bitwise(data: Uint8Array): number {
  let crc = ~0;
  for (const b of data) {
    crc ^= b;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return ~crc >>> 0;
}

test("crc32c matches the published test vectors", () => {
  assert.equal(crc32c(Buffer.from("123456789")), 0xe3069283);
  assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa);
  assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
  const ascending = Uint8Array.from({ length: 32 }, (_, i) => i);
  assert.equal(crc32c(ascending), 0x46dd794e);
  assert.equal(crc32c(new Uint8Array(0)), 0);
});

test("crc32c slice-by-8 agrees with the bitwise definition at every length and offset", () => {
  const data = Uint8Array.from({ length: 300 }, (_, i) => (i * 131 + 7) & 0xff);
  for (let start = 0; start < 9; start++) {
    for (let end = start; end <= 80; end += 3) {
      assert.equal(crc32c(data, start, end), bitwise(data.subarray(start, end)));
    }
  }
});

test("crc32c continues over split ranges", () => {
  const data = Buffer.from("the quick brown fox jumps over the lazy dog");
  const whole = crc32c(data);
  for (let cut = 0; cut <= data.length; cut++) {
    assert.equal(crc32c(data, cut, data.length, crc32c(data, 0, cut)), whole);
  }
});
