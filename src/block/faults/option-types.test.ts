// Unit tests of option value types and spellings: spec text, JSON / TOML values and the derived names
// agree for every option of every registered kind.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { jsonKey, specKey, tomlKey } from "./fault-kind.js";
import { blocks, byteRange, duration, enumList, rate, schedule, size } from "./option-types.js";
import { faultKinds } from "./registry.js";

describe("option spellings", () => {
  it("derive spec, TOML and JSON names from the one canonical name", () => {
    const dust = faultKinds().find((k) => k.name === "dust")!;
    const names = Object.entries(dust.options).map(([n, d]) => [specKey(n, d), tomlKey(n), jsonKey(n)]);
    assert.deepEqual(names, [
      ["block-size", "block_size", "blockSize"],
      ["block", "blocks", "blocks"],
      ["heal", "heal", "heal"],
    ]);
  });

  it("every option of every kind round-trips its default through spec text and JSON", () => {
    for (const kind of faultKinds()) {
      for (const [name, def] of Object.entries(kind.options)) {
        if (def.default === undefined) continue;
        const texts = def.type.toText(def.default);
        if (def.type.flag) continue;
        const parsed = def.type.list
          ? texts.flatMap((t) => def.type.fromText(t) as unknown[])
          : def.type.fromText(texts[0]!);
        assert.deepEqual(parsed, def.default, `${kind.name}.${name} via spec text`);
        assert.deepEqual(def.type.fromJson(def.default), def.default, `${kind.name}.${name} via JSON`);
      }
    }
  });
});

describe("option value types", () => {
  it("take typed values and their text in JSON", () => {
    assert.equal(duration.fromJson("2m"), 120_000);
    assert.equal(duration.fromJson(250), 250);
    assert.deepEqual(duration.toText(7_200_000), ["2h"]);
    assert.equal(size.fromJson("4K"), 4096);
    assert.deepEqual(blocks.fromJson([9, "3-5", 3]), [3, 4, 5, 9]);
    assert.deepEqual(blocks.toText([3, 4, 5, 9]), ["3-5", "9"]);
    assert.deepEqual(byteRange.fromJson("1M+4K"), { offsetBytes: 1 << 20, lengthBytes: 4096 });
    assert.deepEqual(byteRange.fromJson({ offsetBytes: 0, lengthBytes: 512 }), {
      offsetBytes: 0,
      lengthBytes: 512,
    });
    assert.deepEqual(schedule.fromJson(["1h@7-8"]), [{ atMs: 3_600_000, blocks: [7, 8] }]);
    assert.deepEqual(schedule.toText([{ atMs: 30_000, blocks: [1, 2, 5] }]), ["30s@1-2", "30s@5"]);
  });

  it("name the bad value", () => {
    assert.throws(() => rate.fromJson(1.5), /^RangeError: 1\.5 is not a rate between 0 and 1$/);
    assert.throws(() => rate.fromJson(true), /true is not a rate/);
    assert.throws(() => blocks.fromJson([1, -1]), /-1 is not a block number/);
    assert.throws(() => duration.fromJson(-5), /-5 is not a duration/);
    assert.throws(() => byteRange.fromJson({ offsetBytes: 0 }), /is not a byte range/);
    assert.throws(() => enumList(["a", "b"]).fromJson(["c"]), /unknown mode "c" \(expected one of a, b\)/);
    assert.throws(() => schedule.fromJson(["5"]), /"5" is not an event TIME@BLOCKS/);
  });
});
