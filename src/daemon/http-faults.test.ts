// The fault-rule API validates bodies against the fault-kind registry: unknown kinds, unknown or
// wrong-typed options and values out of bounds answer 400 with a message and `field` naming them.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { FakeControlTarget } from "./fake-control-target.js";
import { type ApiServer, createApiServer } from "./http-api.js";
import type { ListenAddress } from "./listen-address.js";
import { createLogger } from "./logger.js";

const TOKEN = "fault-token";

describe("POST /v1/targets/NAME/faults validation", () => {
  const lab = new FakeControlTarget({ name: "lab", faults: true });
  let server: ApiServer;
  let base = "";

  before(async () => {
    server = createApiServer({
      targets: () => [lab],
      token: TOKEN,
      logger: createLogger({ level: "error" }),
    });
    const addr: ListenAddress = await server.start("tcp:127.0.0.1:0");
    assert.equal(addr.kind, "tcp");
    if (addr.kind === "tcp") base = `http://${addr.host}:${addr.port}`;
  });
  after(() => server.stop());

  async function post(body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
    const res = await fetch(`${base}/v1/targets/lab/faults`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify(body),
    });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  }

  const bad: [unknown, string, RegExp][] = [
    [{ kind: "random", read: 2 }, "read", /^random option "read": 2 is not a rate between 0 and 1$/],
    [
      { kind: "random", readErrorRate: 0.5 },
      "readErrorRate",
      /^unknown random option "readErrorRate" \(known: read, write, flush, seed\)$/,
    ],
    [{ kind: "random", seed: -1 }, "seed", /^random option "seed": -1 is not an integer >= 0$/],
    [{ kind: "dust", blocks: "5" }, "blocks", /^dust option "blocks": "5" is not a list of block numbers$/],
    [{ kind: "dust", heal: "yes" }, "heal", /^dust option "heal": "yes" is not a boolean/],
    [{ kind: "dust", blockSize: 3000 }, "blockSize", /^dust block size 3000 is not a power of two >= 512$/],
    [{ kind: "flakey", up: "1s" }, "down", /^flakey option "down" is required$/],
    [{ kind: "flakey", up: 1, down: 1, modes: ["boom"] }, "modes", /unknown mode "boom"/],
    [{ kind: "delay", range: "1M" }, "range", /^delay option "range": "1M" is not a byte range/],
    [
      { kind: "slow", blocks: [1], attempts: 0 },
      "attempts",
      /^slow option "attempts": 0 is below the minimum 1$/,
    ],
    [{ kind: "slow" }, "blocks", /^slow option "blocks" is required$/],
    [{ kind: "grow", events: ["5@soon"] }, "events", /^grow option "events": "soon" is not a block number/],
    [{ kind: "grow", perHour: "many" }, "perHour", /^grow option "perHour": "many" is not a number >= 0$/],
    [{ kind: 3 }, "kind", /^"kind": 3 is not one of dust, flakey, random, delay, grow, slow$/],
    [{}, "kind", /^"kind": missing is not one of/],
  ];
  for (const [body, field, detail] of bad) {
    it(`refuses ${JSON.stringify(body)} naming "${field}"`, async () => {
      const reply = await post(body);
      assert.equal(reply.status, 400, JSON.stringify(reply.json));
      assert.equal(reply.json.field, field);
      assert.match(String(reply.json.detail), detail);
      assert.equal(reply.json.code, "EBADREQUEST");
    });
  }

  it("refuses a body that is not an object", async () => {
    const reply = await post([{ kind: "dust" }]);
    assert.equal(reply.status, 400);
    assert.match(String(reply.json.detail), /request body must be a JSON object \{"kind": dust \| flakey/);
  });

  it("accepts valid rules of every new kind, in canonical and text values", async () => {
    lab.faultRules.splice(0);
    const rules = [
      { kind: "slow", blocks: [7], attempts: 3, delay: "28s", writes: true },
      { kind: "grow", blocks: ["10-12"], perHour: 2.5, radius: 4, events: ["10m@5"], seed: 9 },
      { kind: "delay", read: 200, range: { offsetBytes: 0, lengthBytes: 4096 } },
    ];
    for (const rule of rules) assert.equal((await post(rule)).status, 201, JSON.stringify(rule));
    assert.deepEqual(lab.faultRules, rules);
  });
});
