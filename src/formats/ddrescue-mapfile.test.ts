// Parsing ddrescue mapfiles as the manual describes them: comments, status line with and without the
// pass, C++ integer constants, contiguous blocks; every error names its line.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseCppInteger } from "./cpp-integer.js";
import { findingsOfMapfile, mapfileFromState, parseMapfile } from "./ddrescue-mapfile.js";
import { FormatSyntaxError } from "./errors.js";

const MANUAL_EXAMPLE = `# Mapfile. Created by GNU ddrescue version 1.27
# Command line: ddrescue -d -c18 /dev/fd0 fdimage mapfile
# Start time:   2015-07-21 09:37:44
# Current time: 2015-07-21 09:38:19
# Copying non-tried blocks... Pass 1 (forwards)
# current_pos  current_status  current_pass
0x00120000     ?               1
#      pos        size  status
0x00000000  0x00117000  +
0x00117000  0x00000200  -
0x00117200  0x00001000  /
0x00118200  0x00007E00  *
0x00120000  0x00048000  ?
`;

function syntaxError(text: string, line: number, pattern: RegExp): void {
  assert.throws(
    () => parseMapfile(text, "test.map"),
    (err: unknown) => {
      assert.ok(err instanceof FormatSyntaxError, String(err));
      assert.equal(err.code, "EFORMAT");
      assert.equal(err.line, line);
      assert.match(err.message, /^test\.map: line \d+: /);
      assert.match(err.message, pattern);
      return true;
    },
  );
}

describe("C++ integer constants", () => {
  it("reads decimal, hex with 0x / 0X, and octal with a leading 0", () => {
    assert.deepEqual(parseCppInteger("0"), { value: 0 });
    assert.deepEqual(parseCppInteger("4096"), { value: 4096 });
    assert.deepEqual(parseCppInteger("0x1000"), { value: 4096 });
    assert.deepEqual(parseCppInteger("0X1f"), { value: 31 });
    assert.deepEqual(parseCppInteger("010000"), { value: 4096 });
    assert.deepEqual(parseCppInteger("9007199254740991"), { value: Number.MAX_SAFE_INTEGER });
  });
  it("refuses what C++ would not read as one constant", () => {
    for (const bad of ["08", "0x", "-1", "+1", "1e3", "12abc", "0xG", "", "9007199254740992"]) {
      assert.ok("problem" in parseCppInteger(bad), bad);
    }
  });
});

describe("parseMapfile", () => {
  it("reads the manual's example", () => {
    const m = parseMapfile(MANUAL_EXAMPLE);
    assert.equal(m.currentPosBytes, 0x120000);
    assert.equal(m.currentPhase, "?");
    assert.equal(m.currentPass, 1);
    assert.deepEqual(
      m.blocks.map((b) => [b.posBytes, b.sizeBytes, b.state]),
      [
        [0, 0x117000, "+"],
        [0x117000, 0x200, "-"],
        [0x117200, 0x1000, "/"],
        [0x118200, 0x7e00, "*"],
        [0x120000, 0x48000, "?"],
      ],
    );
  });

  it("accepts a status line without the pass, decimal and octal numbers, comments after whitespace, CRLF", () => {
    const m = parseMapfile(
      "# old ddrescue\r\n1024 + # finished\r\n0 01000 +\r\n512 512 -\t# bad\r\n\r\n1024 0x200 +\r\n",
    );
    assert.equal(m.currentPass, undefined);
    assert.equal(m.currentPhase, "+");
    assert.deepEqual(
      m.blocks.map((b) => [b.posBytes, b.sizeBytes, b.state]),
      [
        [0, 512, "+"],
        [512, 512, "-"],
        [1024, 512, "+"],
      ],
    );
  });

  it("turns - into bad areas and * / into suspect areas, placed with offsets", () => {
    const m = parseMapfile(MANUAL_EXAMPLE);
    const plain = findingsOfMapfile(m, 0x200000);
    assert.deepEqual(plain.bad, [{ startBytes: 0x117000, lengthBytes: 0x200 }]);
    assert.deepEqual(plain.suspect, [{ startBytes: 0x117200, lengthBytes: 0x8e00 }]);
    assert.equal(plain.outsideBytes, 0);
    // Main is a partition starting at 0x118000 of the disk the mapfile describes.
    const partition = findingsOfMapfile(m, 0x100000, { mainOffsetBytes: 0x118000 });
    assert.deepEqual(partition.bad, []);
    assert.deepEqual(partition.suspect, [{ startBytes: 0, lengthBytes: 0x8000 }]);
    assert.equal(partition.outsideBytes, 0x200 + 0xe00);
  });

  it("an export with --offset describes the device starting there, cutting a block that straddles it", () => {
    const state = { blockSize: 4096, sizeBytes: 16384, remapped: [], pending: [0, 2], suspects: [] };
    const m = mapfileFromState(state, { offsetBytes: 2048 });
    assert.deepEqual(
      m.blocks.map((b) => [b.posBytes, b.sizeBytes, b.state]),
      [
        [0, 2048, "-"],
        [2048, 4096, "+"],
        [6144, 4096, "-"],
        [10240, 4096, "+"],
      ],
    );
    const back = findingsOfMapfile(m, 16384, { offsetBytes: 2048 });
    assert.deepEqual(back.bad, [
      { startBytes: 2048, lengthBytes: 2048 },
      { startBytes: 8192, lengthBytes: 4096 },
    ]);
  });

  it("never-read areas are ?, except remapped blocks (+) and bad (-) or suspect (*) blocks", () => {
    const state = {
      blockSize: 4096,
      sizeBytes: 5 * 4096,
      remapped: [{ block: 1, spare: 0, spareOffsetBytes: 0, lostSectors: [] }],
      pending: [3],
      suspects: [4],
      unread: [{ startBytes: 0, lengthBytes: 5 * 4096 }],
    };
    const m = mapfileFromState(state);
    assert.equal(m.currentPhase, "?");
    assert.deepEqual(
      m.blocks.map((b) => b.state),
      ["?", "+", "?", "-", "*"],
    );
  });

  it("names the line of every error", () => {
    syntaxError("", 1, /no status line/);
    syntaxError("# only\n# comments\n", 3, /no status line/);
    syntaxError("0 ?\n0 512 +\n512 512 x\n", 3, /block status "x" is not one of/);
    syntaxError("0 Q 1\n", 1, /current_status "Q"/);
    syntaxError("0 ? 0\n", 1, /current_pass "0" is not a positive decimal/);
    syntaxError("0 ? 0x1\n", 1, /current_pass "0x1"/);
    syntaxError("0 ? 1 2\n", 1, /got 4 fields/);
    syntaxError("0 ?\n0 512\n", 2, /needs "pos size status", got 2 fields/);
    syntaxError("0 ?\n0 512 +\n256 512 -\n", 3, /overlaps the previous block/);
    syntaxError("0 ?\n0 512 +\n1024 512 -\n", 3, /leaves a gap/);
    syntaxError("0 ?\n0 08 +\n", 2, /size: "08" is not an octal number/);
    syntaxError("0 ?\n0x 512 +\n", 2, /pos: "0x" is not a non-negative integer/);
    syntaxError("0 ?\n0 512#x +\n", 2, /size: "512#x"/);
  });
});
