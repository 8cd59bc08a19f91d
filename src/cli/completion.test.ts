// The bash completion follows the CLI schema: real bash sources the generated script and completes
// every registered command, every flag of each, and file names after path-valued flags.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { commands } from "./commands.js";
import { renderBashCompletion } from "./completion.js";

const dir = mkdtempSync(join(tmpdir(), "dmremap-completion-"));
const script = join(dir, "dmremap");
writeFileSync(script, renderBashCompletion(commands));
writeFileSync(join(dir, "spare-one.img"), "");
writeFileSync(join(dir, "spare-two.img"), "");
test.after(() => rmSync(dir, { recursive: true, force: true }));

/** Completions bash offers for the words typed so far (the last word is the one being completed). */
function complete(words: string[]): string[] {
  const quoted = words.map((w) => `'${w}'`).join(" ");
  const program = `source '${script}'; COMP_WORDS=(${quoted}); COMP_CWORD=${words.length - 1}; _dmremap; printf '%s\\n' "\${COMPREPLY[@]}"`;
  const r = spawnSync("bash", ["-c", program], { cwd: dir, encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split("\n").filter(Boolean).sort();
}

test("the first word completes to every registered command", () => {
  const offered = complete(["dmremap", ""]);
  for (const c of commands) assert.ok(offered.includes(c.name), c.name);
  assert.ok(offered.includes("--version"));
  assert.deepEqual(
    complete(["dmremap", "se"]),
    commands
      .filter((c) => c.name.startsWith("se"))
      .map((c) => c.name)
      .sort(),
  );
});

test("every flag of every command is offered after --", () => {
  for (const command of commands) {
    const expected = ["--help", ...Object.keys(command.options).map((n) => `--${n}`)].sort();
    assert.deepEqual(complete(["dmremap", command.name, "--"]), expected, command.name);
  }
});

test("path-valued flags complete file names; other valued flags offer nothing", () => {
  assert.deepEqual(complete(["dmremap", "serve", "--config", "spare-"]), ["spare-one.img", "spare-two.img"]);
  assert.deepEqual(complete(["dmremap", "serve", "--log-level", ""]), []);
  assert.deepEqual(complete(["dmremap", "help", "dem"]), ["demo"]);
});
