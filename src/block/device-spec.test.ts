// Unit tests of the device-spec parser: every documented example and every error message.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseDeviceSpec, parseFaultRule, type DeviceSpec } from "./device-spec.js";
import { SpecError } from "./errors.js";

const G = 1024 ** 3;
const M = 1024 ** 2;

describe("parseDeviceSpec: examples", () => {
  const cases: [string, DeviceSpec][] = [
    ["mem:1G", { type: "mem", sizeBytes: G }],
    ["/data/main.img", { type: "file", path: "/data/main.img" }],
    ["main.img", { type: "file", path: "main.img" }],
    ["file:/data/odd:name.img", { type: "file", path: "/data/odd:name.img" }],
    ["file+direct:/dev/sdb", { type: "file", path: "/dev/sdb", direct: true }],
    ["file+direct:odd:name.img", { type: "file", path: "odd:name.img", direct: true }],
    [
      "slice:offset=1G:file+direct:/dev/sdb",
      {
        type: "slice",
        offsetBytes: G,
        lengthBytes: undefined,
        lower: { type: "file", path: "/dev/sdb", direct: true },
      },
    ],
    ["nbd://host:10809/export", { type: "nbd", uri: "nbd://host:10809/export" }],
    ["nbds://host/export", { type: "nbd", uri: "nbds://host/export" }],
    [
      "nbd+unix:///export?socket=/run/nbd.sock",
      { type: "nbd", uri: "nbd+unix:///export?socket=/run/nbd.sock" },
    ],
    [
      "slice:offset=1G,length=64M:/dev/sdb",
      { type: "slice", offsetBytes: G, lengthBytes: 64 * M, lower: { type: "file", path: "/dev/sdb" } },
    ],
    [
      "slice:offset=1G:/dev/sdb",
      { type: "slice", offsetBytes: G, lengthBytes: undefined, lower: { type: "file", path: "/dev/sdb" } },
    ],
    [
      "dust:block=5,block=9-12,block-size=4096,heal:mem:1G",
      {
        type: "fault",
        rules: [{ kind: "dust", blockSize: 4096, blocks: [5, 9, 10, 11, 12], heal: true }],
        lower: { type: "mem", sizeBytes: G },
      },
    ],
    [
      "flakey:up=5s,down=1s,mode=drop-writes:/data/main.img",
      {
        type: "fault",
        rules: [
          {
            kind: "flakey",
            up: 5000,
            down: 1000,
            modes: ["drop-writes"],
          },
        ],
        lower: { type: "file", path: "/data/main.img" },
      },
    ],
    [
      "random:read=0.01,write=0.001,flush=0,seed=42:mem:64M",
      {
        type: "fault",
        rules: [{ kind: "random", read: 0.01, write: 0.001, flush: 0, seed: 42 }],
        lower: { type: "mem", sizeBytes: 64 * M },
      },
    ],
    [
      "delay:read=200ms,write=0,range=0+1M:/data/main.img",
      {
        type: "fault",
        rules: [{ kind: "delay", read: 200, write: 0, range: { offsetBytes: 0, lengthBytes: M } }],
        lower: { type: "file", path: "/data/main.img" },
      },
    ],
    ["fault::mem:1M", { type: "fault", rules: [], lower: { type: "mem", sizeBytes: M } }],
  ];
  for (const [spec, tree] of cases) {
    it(spec, () => assert.deepEqual(parseDeviceSpec(spec), tree));
  }

  it("nests wrappers and merges adjacent fault wrappers into one fault layer", () => {
    const tree = parseDeviceSpec(
      "dust:block=1:random:read=0.5:slice:offset=1M:flakey:up=1s,down=2s,mode=corrupt-byte,corrupt-offset=7:mem:1G",
    );
    assert.equal(tree.type, "fault");
    assert.deepEqual(tree.type === "fault" && tree.rules.map((r) => r.kind), ["dust", "random"]);
    const slice = tree.type === "fault" ? tree.lower : tree;
    assert.equal(slice.type, "slice");
    const inner = slice.type === "slice" ? slice.lower : slice;
    assert.deepEqual(inner, {
      type: "fault",
      rules: [
        {
          kind: "flakey",
          up: 1000,
          down: 2000,
          modes: ["corrupt-byte"],
          corruptOffset: 7,
        },
      ],
      lower: { type: "mem", sizeBytes: G },
    });
  });
});

describe("parseDeviceSpec: errors name the bad value", () => {
  const cases: [string, string][] = [
    ["dust:bloc=5:mem:1G", 'unknown dust option "bloc" (known: block-size, block, heal)'],
    ["foo:bar", 'unknown scheme or wrapper "foo"'],
    ["", "the base device is missing"],
    ["file:", '"file:" needs a path'],
    ["file+direct:", '"file+direct:" needs a path'],
    ["mem:1X", 'mem size: "1X" is not a size'],
    ["mem:1000", "mem size 1000 is not a positive multiple of 512"],
    ["mem:0", "mem size 0 is not a positive multiple of 512"],
    ["nbd:host", 'nbd URI "nbd:host" must start with "nbd://"'],
    ["slice:offset=-1M:mem:1G", 'slice option "offset": "-1M" is not a size'],
    ["slice:offset=100:mem:1G", "slice offset 100 is not a multiple of 512"],
    ["slice:offset=0,length=0:mem:1G", "slice length 0 is not a positive multiple of 512"],
    ["slice:offset=1M,offset=2M:mem:1G", 'slice option "offset" is given twice'],
    ["dust:block=5", 'wrapper "dust" needs options and a lower device (dust:OPTIONS:SPEC)'],
    ["dust:block=5:", "the base device is missing"],
    ["dust:,block=1:mem:1M", 'empty dust option in ",block=1"'],
    ["dust:block=-3:mem:1G", 'dust option "block": "-3" is not a block number N or range N-M'],
    ["dust:block=9-5:mem:1G", 'dust option "block": "9-5" is not a block number N or range N-M'],
    ["dust:block=0-9999999:mem:1G", 'dust option "block": "0-9999999" lists more than 1048576 blocks'],
    ["dust:block-size=3000:mem:1G", "dust block size 3000 is not a power of two >= 512"],
    ["dust:heal=1:mem:1G", 'dust option "heal" is a flag and takes no value (got "1")'],
    ["dust:block:mem:1G", 'dust option "block" needs a value (block=...)'],
    ["flakey:up=5s:mem:1G", 'flakey option "down" is required'],
    ["flakey:up=fast,down=1s:mem:1G", 'flakey option "up": "fast" is not a duration'],
    ["flakey:up=1s,down=1s,mode=explode:mem:1G", 'flakey option "mode": unknown mode "explode"'],
    ["flakey:up=0,down=0:mem:1G", "flakey up and down intervals are both 0"],
    [
      "flakey:up=1s,down=1s,mode=error-writes,mode=drop-writes:mem:1G",
      'flakey modes "error-writes" and "drop-writes" exclude each other',
    ],
    [
      "flakey:up=1s,down=1s,corrupt-value=256:mem:1G",
      'flakey option "corrupt-value": 256 is above the maximum 255',
    ],
    ["random:read=1.5:mem:1G", 'random option "read": "1.5" is not a rate between 0 and 1'],
    ["random:write=-0.1:mem:1G", 'random option "write": "-0.1" is not a rate between 0 and 1'],
    ["random:seed=1,seed=2:mem:1G", 'random option "seed" is given twice'],
    ["random:seed=x:mem:1G", 'random option "seed": "x" is not an integer >= 0'],
    ["delay:read=200ms,range=1M:mem:1G", 'delay option "range": "1M" is not a byte range OFFSET+LENGTH'],
    ["delay:range=0+0:mem:1G", 'delay option "range": range "0+0" is empty'],
    ["delay:range=x+1M:mem:1G", 'delay option "range": "x" is not a size'],
    ["delay:read=-5ms:mem:1G", 'delay option "read": "-5ms" is not a duration'],
    ["fault:x=1:mem:1M", 'unknown fault option "x" (known: none)'],
  ];
  for (const [spec, message] of cases) {
    it(JSON.stringify(spec), () => {
      assert.throws(
        () => parseDeviceSpec(spec),
        (e: unknown) => {
          assert.ok(e instanceof SpecError, `not a SpecError: ${String(e)}`);
          assert.equal(e.code, "EINVAL");
          assert.equal(e.spec, spec);
          const prefix = `device spec "${spec}": `;
          assert.ok(e.message.startsWith(prefix + message), `message was: ${e.message}`);
          return true;
        },
      );
    });
  }
});

describe("parseFaultRule", () => {
  it("parses a rule without a lower device", () => {
    assert.deepEqual(parseFaultRule("dust:block=5,heal"), { kind: "dust", blocks: [5], heal: true });
    assert.deepEqual(parseFaultRule("random:read=0.5"), { kind: "random", read: 0.5 });
  });

  it("names the rule and the bad value", () => {
    assert.throws(
      () => parseFaultRule("dust:bloc=1"),
      /^SpecError: fault rule "dust:bloc=1": unknown dust option "bloc"/,
    );
    assert.throws(
      () => parseFaultRule("slice:offset=0"),
      /expected KIND:OPTIONS with KIND one of dust, flakey/,
    );
    assert.throws(() => parseFaultRule("dust:block=1:mem:1M"), /expected KIND:OPTIONS/);
  });
});
