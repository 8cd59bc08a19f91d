// Unit tests of `dmremap fault`: rule arguments (spec text or JSON) and the text rendering of a listing.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { commandHelp } from "./command.js";
import { faultCommand, renderFaults, ruleBody } from "./cmd-fault.js";
import { UsageError } from "./errors.js";

describe("dmremap fault", () => {
  it("turns spec text into the JSON body, and passes JSON through for the daemon to check", () => {
    assert.deepEqual(ruleBody("slow:block=7,attempts=3"), { kind: "slow", blocks: [7], attempts: 3 });
    assert.deepEqual(ruleBody("grow:event=10m@5,per-hour=2"), {
      kind: "grow",
      events: [{ atMs: 600_000, blocks: [5] }],
      perHour: 2,
    });
    assert.deepEqual(ruleBody('{"kind":"random","read":2}'), { kind: "random", read: 2 });
  });

  it("refuses a bad rule with a usage error naming the option", () => {
    assert.throws(
      () => ruleBody("random:read=2"),
      (e: unknown) =>
        e instanceof UsageError && /random option "read": "2" is not a rate between 0 and 1/.test(e.message),
    );
    assert.throws(
      () => ruleBody("dust:bloc=1"),
      /unknown dust option "bloc" \(known: block-size, block, heal\)/,
    );
    assert.throws(() => ruleBody("meteor:x=1"), /KIND one of dust, flakey, random, delay, grow, slow/);
    assert.throws(
      () => ruleBody("{kind"),
      (e: unknown) => e instanceof UsageError && /not valid JSON/.test(e.message),
    );
  });

  it("renders rules and the counters that are not zero", () => {
    const text = renderFaults("lab", {
      rules: [{ id: 4, kind: "dust", spec: "dust:block-size=4K,block=5" }],
      status: { dustReadErrors: 2, slowReads: 0, rules: 1 },
    });
    assert.equal(
      text,
      "lab: 1 fault rule\n    4  dust:block-size=4K,block=5\n  injected: dustReadErrors 2\n",
    );
  });

  it("has help naming the verbs and every kind", () => {
    const help = commandHelp(faultCommand);
    assert.match(help, /usage: dmremap fault \[options\] list\|add\|clear \[TARGET\] \[RULE\.\.\.\]/);
    assert.match(help, /--json/);
    assert.match(help, /dust, flakey, random, delay, grow, slow/);
  });
});
