// State logger: every state change is one line (warn, or error for read-only / failed) with the old
// and new state and the reason, called as a detached callback the way the remap layer calls it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { createLogger } from "./logger.js";
import { createMetrics } from "./metrics.js";
import { stateLogger } from "./state-log.js";

function capture(): { lines: () => Record<string, unknown>[]; stream: Writable } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  const lines = () =>
    chunks
      .join("")
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { lines, stream };
}

test("each state change is one warn/error line with from, to and reason, and a metric", async () => {
  const { lines, stream } = capture();
  const metrics = createMetrics();
  const log = createLogger({ stream, clock: () => 0 }).child({ target: "t" });
  const events = stateLogger(log, "t", metrics);
  events.opened({ state: "healthy" });
  // Called unbound, as a stored callback: the bug was an unbound logger method here.
  const onStateChange = events.onStateChange!;
  onStateChange({ state: "degraded", reason: "1 pending blocks" });
  onStateChange({ state: "degraded", reason: "2 pending blocks" });
  onStateChange({ state: "read-only", reason: "metadata append failed" });
  onStateChange({ state: "healthy", reason: "" });
  const changes = lines().filter((l) => l.msg === "target state changed");
  assert.deepEqual(
    changes.map((l) => [l.level, l.target, l.from, l.to, l.reason]),
    [
      ["warn", "t", "healthy", "degraded", "1 pending blocks"],
      ["error", "t", "degraded", "read-only", "metadata append failed"],
      ["warn", "t", "read-only", "healthy", ""],
    ],
  );
  const text = await metrics.render();
  assert.match(text, /dmremap_state_changes_total\{target="t",state="degraded"\} 1/);
  assert.match(text, /dmremap_state_changes_total\{target="t",state="read-only"\} 1/);
});

test("a target that opens degraded says so at once", () => {
  const { lines, stream } = capture();
  const events = stateLogger(createLogger({ stream }), "t");
  events.opened({ state: "degraded", reason: "spare 1 missing" });
  assert.deepEqual(
    lines().map((l) => [l.level, l.msg, l.from, l.to, l.reason]),
    [["warn", "target state changed", "opening", "degraded", "spare 1 missing"]],
  );
});
