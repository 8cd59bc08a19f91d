// A fault kind is one file plus one registry line: a throw-away kind registered here is accepted, with
// its own options, by the device-spec parser, the TOML config and the HTTP API, and works in the layer.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { readBytes } from "../block/base-device.js";
import { parseDeviceSpec, parseFaultRule, wrappers } from "../block/device-spec.js";
import { MediumError } from "../block/errors.js";
import { defineFaultKind, injectedError } from "../block/faults/fault-kind.js";
import { integer, rate } from "../block/faults/option-types.js";
import { registerFaultKind } from "../block/faults/registry.js";
import { openDevice } from "../block/open-device.js";
import { faultRulesFromConfig } from "./config-faults.js";
import { parseConfig } from "./config.js";
import { FakeControlTarget } from "./fake-control-target.js";
import { type ApiServer, createApiServer } from "./http-api.js";
import { createLogger } from "./logger.js";

/** Fails every `every`-th read (a made-up kind, only for this test). */
const zap = defineFaultKind({
  name: "zap",
  summary: "fails every n-th read",
  options: {
    every: { type: integer, required: true, min: 1, help: "period of failing reads" },
    chance: { type: rate, default: 1, help: "unused; shows a second option" },
  },
  counters: [{ name: "zapReadErrors", help: "reads zapped" }],
  create(o, ctx) {
    let reads = 0;
    return {
      async apply(req, next) {
        if (req.type === "read" && ++reads % o.every === 0) {
          ctx.count("zapReadErrors");
          throw injectedError(ctx, req, req.offsetBytes, req.lengthBytes, "zap");
        }
        return next();
      },
    };
  },
});

describe("registering a new fault kind", () => {
  before(() => registerFaultKind(zap));

  it("the device-spec grammar accepts it, with its options, and the layer applies it", async () => {
    assert.ok(wrappers().zap, "zap is a wrapper");
    assert.deepEqual(parseFaultRule("zap:every=2"), { kind: "zap", every: 2 });
    const tree = parseDeviceSpec("zap:every=2,chance=0.5:mem:1M");
    assert.deepEqual(tree, {
      type: "fault",
      rules: [{ kind: "zap", every: 2, chance: 0.5 }],
      lower: { type: "mem", sizeBytes: 1 << 20 },
    });
    assert.throws(
      () => parseDeviceSpec("zap:every=0:mem:1M"),
      /zap option "every": 0 is below the minimum 1/,
    );
    assert.throws(
      () => parseDeviceSpec("zap:often=1:mem:1M"),
      /unknown zap option "often" \(known: every, chance\)/,
    );
    const device = await openDevice("zap:every=2:mem:1M");
    await readBytes(device, 0, 512);
    await assert.rejects(readBytes(device, 0, 512), MediumError);
    assert.equal(device.describe(), "zap:every=2,chance=1:mem:1M");
    assert.equal((device.status() as unknown as { faults: Record<string, number> }).faults.zapReadErrors, 1);
    await device.close();
  });

  it("the TOML config accepts [target.faults.zap] and validates its keys", () => {
    const head = `[[target]]\nname = "t"\nmain = "m"\nspares = ["s"]\n[target.faults]\nenabled = true\n`;
    const config = parseConfig(head + "[target.faults.zap]\nevery = 3\n", "x").targets[0]!;
    assert.deepEqual(faultRulesFromConfig(config.faults!, config.blockSize), [
      { kind: "zap", every: 3, chance: 1 },
    ]);
    assert.throws(
      () => parseConfig(head + "[target.faults.zap]\nevery = 0\n", "x"),
      /target\[0\]\.faults\.zap\.every: 0 is below the minimum 1/,
    );
    assert.throws(
      () => parseConfig(head + "[target.faults.zap]\n", "x"),
      /target\[0\]\.faults\.zap\.every: required key is missing/,
    );
  });

  describe("the HTTP API", () => {
    const lab = new FakeControlTarget({ name: "lab", faults: true });
    let server: ApiServer;
    let url = "";
    before(async () => {
      server = createApiServer({
        targets: () => [lab],
        token: "t",
        logger: createLogger({ level: "error" }),
      });
      const addr = await server.start("tcp:127.0.0.1:0");
      if (addr.kind === "tcp") url = `http://${addr.host}:${addr.port}/v1/targets/lab/faults`;
    });
    after(() => server.stop());

    it("accepts a zap rule and refuses a bad one naming the field", async () => {
      const post = (body: unknown) =>
        fetch(url, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: "Bearer t" },
          body: JSON.stringify(body),
        });
      assert.equal((await post({ kind: "zap", every: 4 })).status, 201);
      assert.deepEqual(lab.faultRules, [{ kind: "zap", every: 4 }]);
      const bad = await post({ kind: "zap", every: "often" });
      assert.equal(bad.status, 400);
      const problem = (await bad.json()) as { field: string; detail: string };
      assert.equal(problem.field, "every");
      assert.match(problem.detail, /zap option "every": "often" is not an integer >= 0/);
    });
  });
});
