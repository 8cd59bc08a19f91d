import { test } from "node:test";
import assert from "node:assert/strict";
import { betaQuantile, binomialUpperTail, forecastExhaustion, incompleteBeta } from "./forecast-model.js";

const DAY = 86_400_000;

test("incomplete beta and its quantile agree with closed forms", () => {
  assert.ok(Math.abs(incompleteBeta(0.3, 1, 1) - 0.3) < 1e-9, "Beta(1,1) is uniform");
  assert.ok(Math.abs(incompleteBeta(0.5, 2, 2) - 0.5) < 1e-9, "symmetric");
  assert.ok(Math.abs(incompleteBeta(0.2, 1, 3) - (1 - 0.8 ** 3)) < 1e-9);
  assert.ok(Math.abs(betaQuantile(0.9, 1, 1) - 0.9) < 1e-9);
});

test("binomial upper tail", () => {
  assert.equal(binomialUpperTail(10, 0, 0.5), 1);
  assert.ok(Math.abs(binomialUpperTail(2, 2, 0.5) - 0.25) < 1e-12);
  assert.ok(Math.abs(binomialUpperTail(3, 1, 0.5) - 0.875) < 1e-12);
});

test("steady arrivals: median near remaining / rate, ordered quantiles; no arrivals: no forecast", () => {
  const arrivals = Array.from({ length: 60 }, (_, i) => (i + 0.5) * (DAY / 2)); // 2 a day for 30 d
  const f = forecastExhaustion({
    arrivals,
    now: 30 * DAY,
    observedSince: 0,
    freeSlots: 100,
    alertSlots: 10,
    accelerationRatio: 2,
    accelerationPValue: 0.05,
  });
  assert.ok(Math.abs(f.rate30 - 2) < 1e-9);
  const e = f.exhaustion!;
  assert.ok(e.p10 < e.p50 && e.p50 < e.p90);
  assert.ok(Math.abs(e.p50 / DAY - 50) < 5, `P50 ${e.p50 / DAY} d, expected about 50 d`);
  assert.ok(f.alert!.p50 < e.p50);
  const none = forecastExhaustion({
    ...{ arrivals: [], now: 30 * DAY, observedSince: 0, freeSlots: 5, alertSlots: 1 },
    accelerationRatio: 2,
    accelerationPValue: 0.05,
  });
  assert.equal(none.exhaustion, null);
});

test("a burst widens the interval more than it moves the median", () => {
  const steady = Array.from({ length: 30 }, (_, i) => (i + 0.5) * DAY);
  const burst = [
    ...steady.slice(0, 20),
    ...Array.from({ length: 10 }, (_, i) => 20 * DAY + i * 1000),
    ...steady.slice(20, 30),
  ].sort((a, b) => a - b);
  const opts = {
    now: 30 * DAY,
    observedSince: 0,
    freeSlots: 60,
    alertSlots: 5,
    accelerationRatio: 2,
    accelerationPValue: 0.05,
  };
  const a = forecastExhaustion({ ...opts, arrivals: steady }).exhaustion!;
  const b = forecastExhaustion({ ...opts, arrivals: burst }).exhaustion!;
  assert.ok(b.p90 / b.p10 > a.p90 / a.p10, "wider");
  assert.ok(b.p50 / a.p50 > 0.6, `median moved by ${b.p50 / a.p50}`);
});
