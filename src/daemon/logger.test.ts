// Tests of the JSON-lines logger: shape of a line, level filtering, child fields, error serialisation.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MediumError } from "../block/errors.js";
import { createLogger } from "./logger.js";

function capture() {
  const lines: string[] = [];
  return { lines, stream: { write: (chunk: string) => lines.push(chunk) } };
}

describe("createLogger", () => {
  it("writes one JSON object per line with time, level, msg and fields", () => {
    const { lines, stream } = capture();
    const log = createLogger({ stream, clock: () => 0, fields: { service: "dmremap" } });
    log.info("started", { targets: 2 });
    assert.equal(lines.length, 1);
    assert.ok(lines[0]!.endsWith("\n"));
    assert.deepEqual(JSON.parse(lines[0]!), {
      time: "1970-01-01T00:00:00.000Z",
      level: "info",
      msg: "started",
      service: "dmremap",
      targets: 2,
    });
  });

  it("drops lines below the level", () => {
    const { lines, stream } = capture();
    const log = createLogger({ stream, level: "warn" });
    log.debug("a");
    log.info("b");
    log.warn("c");
    log.error("d");
    assert.deepEqual(
      lines.map((l) => JSON.parse(l).level),
      ["warn", "error"],
    );
    assert.throws(() => createLogger({ level: "loud" as "info" }), /log level "loud"/);
  });

  it("child loggers add fields and keep the parent's level and stream", () => {
    const { lines, stream } = capture();
    const log = createLogger({ stream, level: "debug", fields: { a: 1 } });
    log
      .child({ target: "disk0" })
      .child({ op: "read" })
      .debug("slow", { ms: 3, msg: "spoofed", level: "error" });
    const line = JSON.parse(lines[0]!);
    assert.deepEqual(Object.keys(line).slice(0, 3), ["time", "level", "msg"]);
    assert.equal(line.msg, "slow");
    assert.equal(line.level, "debug");
    assert.equal(line.a, 1);
    assert.equal(line.target, "disk0");
    assert.equal(line.op, "read");
    assert.equal(line.ms, 3);
  });

  it("serialises errors with name, code, fields and cause", () => {
    const { lines, stream } = capture();
    const err = new MediumError("main", "read", 4096, 512, undefined, { cause: new Error("EIO") });
    createLogger({ stream }).error("read failed", { err, big: 10n, buf: new Uint8Array(3) });
    const line = JSON.parse(lines[0]!);
    assert.equal(line.err.name, "MediumError");
    assert.equal(line.err.code, "EMEDIUM");
    assert.equal(line.err.offsetBytes, 4096);
    assert.equal(line.err.cause.message, "EIO");
    assert.match(line.err.stack, /MediumError/);
    assert.equal(line.big, "10");
    assert.equal(line.buf, "<3 bytes>");
  });

  it("survives circular fields", () => {
    const { lines, stream } = capture();
    const loop: Record<string, unknown> = {};
    loop.self = loop;
    createLogger({ stream }).warn("odd", { loop });
    const line = JSON.parse(lines[0]!);
    assert.equal(line.msg, "odd");
    assert.match(line.logError, /circular/i);
  });
});

it("setLevel changes the minimum level of a logger and its children; lifecycle lines always pass", () => {
  const lines: string[] = [];
  const root = createLogger({ level: "warn", stream: { write: (l: string) => lines.push(l) } });
  const child = root.child({ component: "nbd" });
  child.info("hidden");
  root.lifecycle("ready", { port: 1 });
  root.setLevel("debug");
  child.debug("shown");
  assert.deepEqual(
    lines.map((l) => (JSON.parse(l) as { msg: string }).msg),
    ["ready", "shown"],
  );
  assert.throws(() => root.setLevel("loud" as never), /log level "loud"/);
});
