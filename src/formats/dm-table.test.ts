// Device-mapper tables: refusals that name the problem, parsing errors that name the line.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DmSimulator } from "./dm-simulator.js";
import { dmTableFromState, parseDmTable } from "./dm-table.js";
import { FormatSyntaxError } from "./errors.js";

const STATE = { blockSize: 4096, sizeBytes: 16384, remapped: [], pending: [], suspects: [] };

describe("dm tables", () => {
  it("a healthy set is one linear segment over main", () => {
    assert.deepEqual(dmTableFromState(STATE, { mainPath: "/dev/m", sparePaths: ["/dev/s"] }), [
      { startSector: 0, lengthSectors: 32, target: "linear", device: "/dev/m", offsetSectors: 0 },
    ]);
  });

  it("refuses a spare without a path and a size that is not whole sectors", () => {
    const remapped = [{ block: 1, spare: 1, spareOffsetBytes: 4096, lostSectors: [] }];
    assert.throws(
      () => dmTableFromState({ ...STATE, remapped }, { mainPath: "m", sparePaths: ["s0"] }),
      /spare 1, but only 1 spare path/,
    );
    assert.throws(
      () => dmTableFromState({ ...STATE, sizeBytes: 1000 }, { mainPath: "m", sparePaths: [] }),
      /1000 is not a multiple of 512/,
    );
  });

  it("parsing names the line of gaps, unknown targets and bad numbers", () => {
    const bad = (text: string, line: number, pattern: RegExp) =>
      assert.throws(
        () => parseDmTable(text, "t"),
        (err: unknown) => err instanceof FormatSyntaxError && err.line === line && pattern.test(err.message),
      );
    bad("0 8 linear /dev/m 0\n9 8 error\n", 2, /starts at sector 9, expected 8/);
    bad("0 8 striped 2\n", 1, /target "striped" is not linear or error/);
    bad("0 8 linear /dev/m\n", 1, /linear needs/);
    bad("0 x error\n", 1, /length "x"/);
    bad("0 0 error\n", 1, /length is 0/);
    bad("0 8 error extra\n", 1, /error takes no arguments/);
  });

  it("the simulator refuses tables that read past an image or leave gaps", () => {
    const image = new Uint8Array(4096);
    assert.throws(
      () => new DmSimulator(parseDmTable("0 16 linear m 0\n"), new Map([["m", image]])),
      /past the end of m/,
    );
    assert.throws(
      () => new DmSimulator(parseDmTable("0 8 linear x 0\n"), new Map([["m", image]])),
      /no image for device x/,
    );
    const sim = new DmSimulator(parseDmTable("0 4 linear m 4\n4 4 error\n"), new Map([["m", image]]));
    assert.equal(sim.readSector(5), "error");
    assert.equal((sim.readSector(0) as Uint8Array).byteOffset, 2048);
    assert.throws(() => sim.readSector(8), /outside the table/);
  });
});
