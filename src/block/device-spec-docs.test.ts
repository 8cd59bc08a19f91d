// Keeps docs/DEVICE-SPECS.md honest: every schema option is documented, every example parses,
// and every documented error message is the one openDevice really gives.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { parseDeviceSpec, wrappers } from "./device-spec.js";
import { kindCounters, kindOptionTable, kindSummary } from "./faults/fault-docs.js";
import { faultKinds } from "./faults/registry.js";
import { openDevice } from "./open-device.js";

const docs = readFileSync(new URL("../../../docs/DEVICE-SPECS.md", import.meta.url), "utf8");

function section(title: string): string {
  const start = docs.indexOf(`## ${title}\n`);
  assert.ok(start >= 0, `docs have a "${title}" section`);
  const end = docs.indexOf("\n## ", start + 1);
  return docs.slice(start, end < 0 ? undefined : end);
}

/** The cells of every table row in `text` (trimmed; prettier pads them). */
function rows(text: string): string[][] {
  return text
    .split("\n")
    .filter((line) => line.startsWith("|"))
    .map((line) =>
      line
        .split(/(?<!\\)\|/)
        .slice(1, -1)
        .map((cell) => cell.trim()),
    );
}

describe("docs/DEVICE-SPECS.md", () => {
  it("documents every wrapper option of the schema", () => {
    for (const [name, wrapper] of Object.entries(wrappers())) {
      assert.ok(docs.includes(`### \`${name}\``), `wrapper ${name} is documented`);
      for (const option of wrapper.options) {
        const row = [
          `\`${option.key}\`${option.repeatable ? " (repeatable)" : ""}`,
          option.value,
          option.default,
        ];
        const table = rows(docs.slice(docs.indexOf(`### \`${name}\``)));
        const found = table.find((cells) => cells[0] === row[0]);
        const cells = found && found.length === 5 ? [found[0], ...found.slice(2, 4)] : found?.slice(0, 3);
        assert.deepEqual(cells, row, `docs row for ${name} option ${option.key}`);
      }
    }
  });

  it("has each fault kind's generated summary, option table and counters, in registry order", () => {
    let at = 0;
    for (const kind of faultKinds()) {
      const expected = [
        `### \`${kind.name}\``,
        "",
        kindSummary(kind),
        "",
        ...kindOptionTable(kind),
        "",
        kindCounters(kind),
      ].join("\n");
      const found = docs.indexOf(expected);
      assert.ok(found >= 0, `docs/DEVICE-SPECS.md needs, for kind ${kind.name}:\n${expected}`);
      assert.ok(found > at, `kind ${kind.name} is documented in registry order`);
      at = found;
    }
  });

  it("every example parses", () => {
    const examples = rows(section("Examples"))
      .map((cells) => /^`([^`]+)`$/.exec(cells[0]!)?.[1])
      .filter((spec) => spec !== undefined);
    assert.ok(examples.length >= 10, `found ${examples.length} examples`);
    for (const spec of examples) assert.doesNotThrow(() => parseDeviceSpec(spec), spec);
  });

  it("every documented error of a RAM-backed spec is the real message", async () => {
    const lines = [...section("Errors").matchAll(/^device spec "([^"]*)": (.*)$/gm)];
    let checked = 0;
    for (const [line, spec, rest] of lines) {
      if (!spec!.includes("mem:") && !spec!.startsWith("foo:")) continue;
      const expected = `device spec "${spec}": ${rest!.replace(/ \.\.\.\)$/, "")}`;
      await assert.rejects(openDevice(spec!), (e: unknown) => {
        assert.ok(
          e instanceof Error && e.message.startsWith(expected.replace(/; $/, ";")),
          `${line}\nreal: ${String(e)}`,
        );
        return true;
      });
      checked++;
    }
    assert.ok(checked >= 10, `checked ${checked} documented errors`);
  });

  it("documents the real message of a filesystem without O_DIRECT", async () => {
    const line = /^device spec "file\+direct:([^"]*)": (.*)$/m.exec(section("Errors"));
    assert.ok(line, "a file+direct error is documented");
    // procfs refuses O_DIRECT on every Linux; the documented path stands for it.
    const real = "/proc/self/status";
    await assert.rejects(openDevice(`file+direct:${real}`, { readOnly: true }), (e: unknown) => {
      assert.ok(e instanceof Error);
      assert.equal(e.message.replaceAll(real, line[1]!), line[0]);
      return true;
    });
  });
});
