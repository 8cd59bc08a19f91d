import { test } from "node:test";
import assert from "node:assert/strict";
import { TURN_INTERVAL_MS, TurnKeeper, nextTurn } from "./loop-turns.js";

test("a keeper gives a turn once the interval has passed since its last, and none before", async () => {
  let clock = 0;
  const keeper = new TurnKeeper(() => clock, 5);
  assert.equal(keeper.due(), undefined);
  clock = 4.9;
  assert.equal(keeper.due(), undefined);
  clock = 5;
  const turn = keeper.due();
  assert.ok(turn instanceof Promise);
  await turn;
  // Counted from the turn just given.
  clock = 9;
  assert.equal(keeper.due(), undefined);
  clock = 10;
  assert.ok(keeper.due() instanceof Promise);
  assert.equal(TURN_INTERVAL_MS, 1);
  assert.throws(() => new TurnKeeper(() => 0, -1), /turn interval of -1 ms is not >= 0/);
  assert.throws(() => new TurnKeeper(() => 0, Number.NaN), /turn interval of NaN ms/);
});

test("a turn lets the callbacks already queued on the event loop run; a chain of microtasks does not", async () => {
  const order: string[] = [];
  setImmediate(() => order.push("immediate"));
  for (let i = 0; i < 1000; i++) await Promise.resolve();
  order.push("after microtasks");
  await nextTurn();
  order.push("after turn");
  assert.deepEqual(order, ["after microtasks", "immediate", "after turn"]);
});
