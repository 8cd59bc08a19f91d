// The man pages follow the CLI schema: every registered command, flag, default and example appears,
// roff special characters are escaped, and groff renders the pages without warnings.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Command } from "./command.js";
import { commands } from "./commands.js";
import { renderManPages, roffEscape } from "./manpage.js";

/** What a reader sees: roff escapes for minus and backslash turned back into plain characters. */
function plain(roff: string): string {
  return roff.replace(/\\-/g, "-").replace(/\\e/g, "\\").replace(/\\&/g, "");
}

test("dmremap.1 names every registered command with every flag, default and its details", () => {
  const page = plain(renderManPages(commands, "9.9.9").get("dmremap.1")!);
  assert.ok(commands.length >= 10, "the registry is read, not a hand list");
  for (const command of commands) {
    assert.ok(page.includes(`.SS "dmremap ${command.name} [options]`), `section of ${command.name}`);
    for (const [name, spec] of Object.entries(command.options)) {
      assert.ok(page.includes(`--${name}`), `${command.name} --${name}`);
      if (spec.default !== undefined)
        assert.ok(page.includes(`default: ${spec.default}`), `default of --${name}`);
    }
    for (const line of (command.details ?? "").split("\n").filter((l) => l.trim())) {
      assert.ok(page.includes(line), `${command.name} details line "${line}"`);
    }
  }
  assert.match(page, /^\.TH DMREMAP 1 "" "dmremap 9\.9\.9"/m);
  assert.match(page, /DMREMAP_TOKEN/);
});

test("one dmremap-COMMAND.1 page per registered command", () => {
  const pages = renderManPages(commands, "1.0.0");
  assert.deepEqual(
    [...pages.keys()].sort(),
    ["dmremap.1", ...commands.map((c) => `dmremap-${c.name}.1`)].sort(),
  );
  for (const command of commands) {
    const page = plain(pages.get(`dmremap-${command.name}.1`)!);
    assert.match(page, new RegExp(`^dmremap-${command.name} - `, "m"));
    for (const name of Object.keys(command.options)) assert.ok(page.includes(`--${name}`));
  }
});

test("roff requests in help text are escaped: leading dots, quotes, backslashes", () => {
  assert.equal(roffEscape(".so /etc/passwd"), "\\&.so /etc/passwd");
  assert.equal(roffEscape("a\\b"), "a\\eb");
  assert.equal(roffEscape("'x\n.y"), "\\&'x\n\\&.y");
  const odd: Command = {
    name: "odd",
    summary: "a command",
    options: { path: { type: "string", value: "FILE", help: ".hidden file", default: "./x" } },
    details: ".TH trap\n\\n",
    run: async () => 0,
  };
  const page = renderManPages([odd], "1").get("dmremap-odd.1")!;
  assert.ok(!/^\.TH trap/m.test(page), "a details line cannot become a roff request");
  assert.ok(page.includes("\\&.hidden file"));
});

test("groff renders every page without warnings", () => {
  const dir = mkdtempSync(join(tmpdir(), "dmremap-man-"));
  try {
    for (const [name, text] of renderManPages(commands, "1.0.0")) {
      const path = join(dir, name);
      writeFileSync(path, text);
      const r = spawnSync("groff", ["-man", "-Tutf8", "-ww", "-z", path], { encoding: "utf8" });
      assert.equal(r.error, undefined, "groff is installed (Debian groff-base)");
      assert.equal(r.status, 0, `${name}: ${r.stderr}`);
      assert.equal(r.stderr, "", `${name} renders without warnings`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
