import { test } from "node:test";
import assert from "node:assert/strict";
import { CrashDevice, CrashRecorder, crashImage } from "./crash-device.js";
import { Prng } from "../block/prng.js";

const filled = (n: number, v: number) => new Uint8Array(n).fill(v);

test("writes are visible at once but durable only after flush", async () => {
  const d = new CrashDevice({ sizeBytes: 4096 });
  await d.write(512, filled(512, 7));
  const back = new Uint8Array(512);
  await d.read(512, back);
  assert.deepEqual(back, filled(512, 7));
  assert.equal(d.durableImage()[512], 0);
  assert.equal(d.cachedWrites.length, 1);
  await d.flush();
  assert.equal(d.durableImage()[512], 7);
  assert.equal(d.cachedWrites.length, 0);
});

test("a FUA write is durable and supersedes overlapping cached writes", async () => {
  const d = new CrashDevice({ sizeBytes: 4096 });
  await d.write(0, filled(2048, 1));
  await d.write(512, filled(512, 2), { fua: true });
  assert.equal(d.durableImage()[512], 2);
  assert.equal(d.durableImage()[0], 0);
  const rng = new Prng(1);
  for (let i = 0; i < 50; i++) {
    const image = d.crash(rng, { keepProbability: 1 });
    assert.equal(image[512], 2, "an older cached write never lands over a FUA write");
    assert.ok(image[0] === 0 || image[0] === 1);
  }
});

test("crash images keep durable data and contain only whole or torn cached sectors", async () => {
  const d = new CrashDevice({ sizeBytes: 8192 });
  await d.write(0, filled(1024, 1));
  await d.flush();
  await d.write(0, filled(4096, 2));
  const rng = new Prng(42);
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const image = d.crash(rng, { tornProbability: 0.5 });
    const sectors: number[] = [];
    for (let s = 0; s < 8; s++) {
      const bytes = image.subarray(s * 512, (s + 1) * 512);
      assert.ok(
        bytes.every((b) => b === bytes[0]),
        "a sector is never split",
      );
      const old = s < 2 ? 1 : 0;
      assert.ok(bytes[0] === old || bytes[0] === 2, `sector ${s} holds old or new data`);
      sectors.push(bytes[0]!);
    }
    seen.add(sectors.join(""));
    assert.ok(image.subarray(4096).every((b) => b === 0));
  }
  assert.ok(seen.has("11000000"), "nothing survived");
  assert.ok(seen.has("22222222"), "everything survived");
  assert.ok(seen.size > 4, "torn variants appear");
});

test("the recorder numbers operations across devices and its hook runs before each one", async () => {
  const recorder = new CrashRecorder();
  const a = new CrashDevice({ sizeBytes: 4096, name: "a", recorder });
  const b = new CrashDevice({ sizeBytes: 4096, name: "b", recorder });
  const seenCached: number[] = [];
  recorder.hook = (_op, device) => {
    seenCached.push(device.cachedWrites.length);
  };
  await a.write(0, filled(512, 1));
  await b.write(0, filled(512, 1));
  await a.flush();
  assert.deepEqual(
    recorder.log.map((o) => `${o.seq}:${o.device}:${o.op}`),
    ["1:a:write", "2:b:write", "3:a:flush"],
  );
  assert.deepEqual(seenCached, [0, 0, 1]);
});

test("an image round-trips and dropCache returns to the durable state", async () => {
  const image = filled(4096, 9);
  const d = new CrashDevice({ sizeBytes: 4096, image });
  image[0] = 0;
  await d.write(0, filled(512, 3));
  d.dropCache();
  const back = new Uint8Array(4096);
  await d.read(0, back);
  assert.deepEqual(back, filled(4096, 9));
  assert.throws(() => new CrashDevice({ sizeBytes: 1000 }), /not a positive multiple of 512/);
});

test("a captured crash point yields images of that moment, not of later writes", async () => {
  const d = new CrashDevice({ sizeBytes: 4096 });
  await d.write(0, filled(512, 1));
  const point = d.capture();
  assert.equal(point.seq, 1);
  await d.write(0, filled(512, 2));
  await d.flush();
  const rng = new Prng(5);
  const values = new Set<number>();
  for (let i = 0; i < 40; i++) values.add(crashImage(point, rng)[0]!);
  assert.deepEqual([...values].sort(), [0, 1]);
  assert.equal(point.durable[0], 0, "the point is not modified");
});
