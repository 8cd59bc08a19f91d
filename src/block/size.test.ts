import { test } from "node:test";
import assert from "node:assert/strict";
import { formatSize, parseDuration, parseSize } from "./size.js";

test("parseSize accepts plain numbers and binary suffixes", () => {
  assert.equal(parseSize("4096"), 4096);
  assert.equal(parseSize("64M"), 64 * 1024 * 1024);
  assert.equal(parseSize("1GiB"), 1024 ** 3);
  assert.equal(parseSize("2k"), 2048);
});

test("parseSize names the bad value", () => {
  assert.throws(() => parseSize("-1"), /"-1" is not a size/);
  assert.throws(() => parseSize("12X"), /"12X" is not a size/);
});

test("formatSize picks the largest exact unit", () => {
  assert.equal(formatSize(65536), "64K");
  assert.equal(formatSize(1024 ** 3), "1G");
  assert.equal(formatSize(1000), "1000");
});

test("parseDuration understands ms, s and bare milliseconds", () => {
  assert.equal(parseDuration("200ms"), 200);
  assert.equal(parseDuration("5s"), 5000);
  assert.equal(parseDuration("50"), 50);
  assert.throws(() => parseDuration("soon"), /"soon" is not a duration/);
});
