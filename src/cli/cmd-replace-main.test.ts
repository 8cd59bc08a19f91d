// The replace-main progress line: a bar with percent, bytes, rate, ETA, and the unreadable blocks listed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { replaceLine } from "./cmd-replace-main.js";

test("the progress line shows the bar, rate and ETA, and lists unreadable blocks", () => {
  const base = {
    device: "/dev/sde",
    previous: "/dev/sdb",
    totalBytes: 4 << 20,
    copiedBytes: 1 << 20,
    remappedSkipped: 2,
    retryBlocks: 0,
    requestsInFlight: 0,
    unremapped: 0,
    stillRemapped: 0,
  };
  const running = replaceLine({
    ...base,
    state: "running",
    phase: "copying",
    doneBytes: 1 << 20,
    rateBytesPerSecond: 1 << 20,
    etaSeconds: 3,
    unreadableBlocks: [],
  });
  assert.match(running, /running \(copying\) \[#{8}\.{22}\] {2}25\.0% 1M\/4M, 1M\/s, 3 s left, 2 remapped/);
  const done = replaceLine({
    ...base,
    state: "done",
    phase: "done",
    doneBytes: 4 << 20,
    rateBytesPerSecond: 0,
    unreadableBlocks: Array.from({ length: 12 }, (_, i) => i * 10),
  });
  assert.match(done, /\[#{30}\] 100\.0%.*12 unreadable \(pending\): 0 10 20 30 40 50 60 70 80 90 \.\.\.$/);
});
