import { test } from "node:test";
import assert from "node:assert/strict";
import { commandHelp, parseCommandArgs, parseIntArg, stringsOpt, type Command } from "./command.js";
import { describeCliError, EXIT_FAILED, EXIT_USAGE, UsageError } from "./errors.js";
import { SpecError } from "../block/errors.js";
import { commands } from "./commands.js";

const sample: Command = {
  name: "sample",
  summary: "a sample command",
  args: "BLOCK...",
  options: {
    spare: { type: "string", multiple: true, value: "DEV", help: "a spare" },
    json: { type: "boolean", help: "print JSON" },
  },
  run: async () => 0,
};

test("repeatable options collect every value in order", () => {
  const parsed = parseCommandArgs(sample, ["--spare", "a", "--spare=b", "--json", "7"]);
  assert.deepEqual(stringsOpt(parsed, "spare"), ["a", "b"]);
  assert.equal(parsed.values.json, true);
  assert.deepEqual(parsed.positionals, ["7"]);
});

test("an unknown flag is a usage error naming the flag and the command", () => {
  assert.throws(
    () => parseCommandArgs(sample, ["--spar", "x"]),
    (err: unknown) => err instanceof UsageError && /dmremap sample: .*--spar/.test(err.message),
  );
});

test("help lists every option with its placeholder", () => {
  const help = commandHelp(sample);
  assert.match(help, /usage: dmremap sample \[options\] BLOCK\.\.\./);
  assert.match(help, /--spare DEV \(repeatable\)\s+a spare/);
  assert.match(help, /--json\s+print JSON/);
});

test("integer arguments name the bad value", () => {
  assert.equal(parseIntArg("block", "42"), 42);
  assert.throws(() => parseIntArg("block", "-1"), /block "-1" is not a non-negative integer/);
  assert.throws(() => parseIntArg("block", "4x"), /block "4x" is not a non-negative integer/);
  assert.throws(() => parseIntArg("--limit", "0", 1), /--limit 0 is out of range \(1\.\./);
});

test("errors map to one exit code each: usage 2, device and other failures 1", () => {
  assert.equal(describeCliError(new UsageError("bad")).exitCode, EXIT_USAGE);
  const spec = describeCliError(new SpecError("x", 'device spec "x": unknown scheme'));
  assert.deepEqual(spec, { exitCode: EXIT_FAILED, message: 'device spec "x": unknown scheme', known: true });
  assert.equal(describeCliError("odd").exitCode, EXIT_FAILED);
});

test("every command has a unique name, a summary and help text", () => {
  const names = commands.map((c) => c.name);
  assert.equal(new Set(names).size, names.length);
  for (const c of commands) {
    assert.ok(c.summary.length > 10, c.name);
    assert.match(commandHelp(c), new RegExp(`usage: dmremap ${c.name}`));
  }
  for (const expected of ["create", "serve", "status", "list", "check", "remap", "unremap", "demo", "info"]) {
    assert.ok(names.includes(expected), expected);
  }
});
