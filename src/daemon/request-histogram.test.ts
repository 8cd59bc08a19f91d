// RequestHistogram: bucket boundaries are inclusive (le), counts are cumulative, series per label pair.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Registry } from "prom-client";
import { RequestHistogram } from "./request-histogram.js";

describe("RequestHistogram", () => {
  it("renders cumulative buckets, +Inf, sum and count per target and op", async () => {
    const registry = new Registry();
    const h = new RequestHistogram("req_seconds", "Request time.", [0.001, 0.01], registry);
    h.observe("a", "read", 0.001);
    h.observe("a", "read", 0.005);
    h.observe("a", "read", 5);
    h.observe("b", "write", 0.0001);
    const text = await registry.metrics();
    assert.match(text, /^# TYPE req_seconds histogram$/m);
    assert.match(text, /^req_seconds_bucket\{le="0.001",target="a",op="read"\} 1$/m);
    assert.match(text, /^req_seconds_bucket\{le="0.01",target="a",op="read"\} 2$/m);
    assert.match(text, /^req_seconds_bucket\{le="\+Inf",target="a",op="read"\} 3$/m);
    assert.match(text, /^req_seconds_sum\{target="a",op="read"\} 5.006$/m);
    assert.match(text, /^req_seconds_count\{target="b",op="write"\} 1$/m);
    h.reset();
    assert.doesNotMatch(await registry.metrics(), /req_seconds_count/);
  });

  it("refuses buckets that do not increase, naming the value", () => {
    assert.throws(
      () => new RequestHistogram("x", "x", [0.1, 0.1], new Registry()),
      /buckets are not increasing at 0.1/,
    );
  });
});
