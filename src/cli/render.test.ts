import { test } from "node:test";
import assert from "node:assert/strict";
import { renderList, renderStatus } from "./render.js";
import type { TargetStatus } from "../daemon/target.js";

const status: TargetStatus = {
  name: "disk0",
  uuid: "0b7f3c9e-0000-4000-8000-000000000001",
  state: "degraded",
  reason: "2 pending blocks",
  blockSize: 4096,
  sizeBytes: 1 << 30,
  remappedBlocks: 12,
  pendingBlocks: 2,
  lostSectors: 3,
  spare: { totalBlocks: 1000, usedBlocks: 950, freeBlocks: 50, nearlyExhausted: true },
  errors: { read: 4, write: 12 },
  remaps: { "write-error": 12 },
  io: { reads: 10, writes: 20, bytesRead: 40960, bytesWritten: 81920 },
  metadata: { generation: 57, copies: [{ device: "/dev/sdc1", slot: "B", state: "ok" }] },
};

test("status table shows state with reason, spare usage with the alert, and every copy", () => {
  const text = renderStatus(status);
  assert.match(text, /state:\s+degraded \(2 pending blocks\)/);
  assert.match(text, /spare slots:\s+950 used \/ 1000 total \(95\.0%\)\s+\*\* NEARLY EXHAUSTED \*\*/);
  assert.match(text, /size:\s+1\.00 GiB \(1073741824 bytes\), block size 4096/);
  assert.match(text, /errors:\s+read 4, write 12/);
  assert.match(text, /0\s+\/dev\/sdc1\s+B\s+ok/);
});

test("list table shows blocks, slots, lost sectors and pending blocks", () => {
  const text = renderList([{ block: 5, slot: 0, spare: 0, lostSectors: [1, 2] }], [9, 11]);
  assert.match(text, /\s+5\s+0\s+0\s+1,2/);
  assert.match(text, /1 remapped block\(s\)/);
  assert.match(text, /pending: 9, 11/);
});
