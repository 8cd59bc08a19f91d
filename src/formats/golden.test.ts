// Golden-file tests: each format's output for one known state, with unit conversions across 512 /
// 1024 / 4096 bytes and offsets, compared with files in src/formats/golden/ (UPDATE_GOLDEN=1 rewrites).
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { formatBlockList, listFromState, parseBlockList, rangesOfList } from "./block-list.js";
import { findingsOfMapfile, formatMapfile, mapfileFromState, parseMapfile } from "./ddrescue-mapfile.js";
import { dmTableFromState, formatDmTable, parseDmTable } from "./dm-table.js";
import { planImport } from "./import-plan.js";
import type { RemapState } from "./remap-state.js";

const GOLDEN_DIR = fileURLToPath(new URL("../../../src/formats/golden/", import.meta.url));

/** 64 blocks of 4096 bytes plus a partial block of 1024 bytes. */
export const GOLDEN_STATE: RemapState = {
  blockSize: 4096,
  sizeBytes: 64 * 4096 + 1024,
  remapped: [
    { block: 3, spare: 0, spareOffsetBytes: 1 << 20, lostSectors: [] },
    { block: 4, spare: 1, spareOffsetBytes: 65536, lostSectors: [1, 2, 7] },
    { block: 10, spare: 0, spareOffsetBytes: (1 << 20) + 4096, lostSectors: [] },
  ],
  pending: [5, 20, 64],
  suspects: [30, 31],
};

function golden(name: string, actual: string): void {
  const path = GOLDEN_DIR + name;
  if (process.env.UPDATE_GOLDEN === "1") writeFileSync(path, actual);
  assert.equal(actual, readFileSync(path, "utf8"), `output differs from golden file ${name}`);
}

const empty = (s: RemapState): RemapState => ({ ...s, pending: [], suspects: [] });

describe("golden files", () => {
  it("ddrescue mapfile of the state, and of a whole disk where main starts at 1 MiB", () => {
    const plain = formatMapfile(mapfileFromState(GOLDEN_STATE), ["Mapfile. Created by dmremap (golden)"]);
    golden("ddrescue.map", plain);
    const disk = formatMapfile(
      mapfileFromState(
        { ...GOLDEN_STATE, unread: [{ startBytes: 40 * 4096, lengthBytes: 8 * 4096 }] },
        { mainOffsetBytes: 1 << 20 },
      ),
    );
    golden("ddrescue-disk-offset-unread.map", disk);
    // Import of both into the same remap table gives back pending and suspects.
    for (const [text, placement] of [
      [plain, {}],
      [disk, { mainOffsetBytes: 1 << 20 }],
    ] as const) {
      const plan = planImport(
        empty(GOLDEN_STATE),
        findingsOfMapfile(parseMapfile(text), GOLDEN_STATE.sizeBytes, placement),
      );
      assert.deepEqual(plan.markPending, [5, 20, 64]);
      assert.deepEqual(plan.addSuspects, [30, 31]);
      assert.deepEqual(plan.alreadyRemapped, [4]);
    }
  });

  for (const unit of [512, 1024, 4096]) {
    it(`badblocks list in ${unit}-byte units, without and with an offset of 8192`, () => {
      const list = listFromState(GOLDEN_STATE, { unitBytes: unit });
      golden(`badblocks-${unit}.txt`, formatBlockList(list));
      const shifted = listFromState(GOLDEN_STATE, { unitBytes: unit, offsetBytes: 8192 });
      golden(`badblocks-${unit}-offset-8192.txt`, formatBlockList(shifted));
      const back = planImport(empty(GOLDEN_STATE), {
        bad: rangesOfList(parseBlockList(formatBlockList(shifted)), GOLDEN_STATE.sizeBytes, {
          unitBytes: unit,
          offsetBytes: 8192,
        }),
        suspect: [],
        outsideBytes: 0,
      });
      // Block 5 starts at 20480 >= 8192, so everything is inside the listed device.
      assert.deepEqual(back.markPending, [5, 20, 64]);
    });
  }

  it("e2fsck lists for 1024- and 4096-byte filesystem blocks, a filesystem starting at 16 KiB, remapped included", () => {
    golden(
      "e2fsck-1024-offset-16384.txt",
      formatBlockList(listFromState(GOLDEN_STATE, { unitBytes: 1024, offsetBytes: 16384 })),
    );
    golden(
      "e2fsck-4096-remapped.txt",
      formatBlockList(listFromState(GOLDEN_STATE, { unitBytes: 4096 }, { includeRemapped: true })),
    );
  });

  it("dm table over main and two spares", () => {
    const text = formatDmTable(
      dmTableFromState(GOLDEN_STATE, { mainPath: "/dev/main", sparePaths: ["/dev/spare0", "/dev/spare1"] }),
    );
    golden("dm-table.txt", text);
    assert.equal(formatDmTable(parseDmTable(text)), text);
  });
});
