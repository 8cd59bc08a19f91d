// Property tests on random remap / pending / suspect states (seeded): export then import is the
// identity for every format, importing a state's own export changes nothing, and the dm table served
// by the simulator reads exactly like the remapped device would.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Prng } from "../block/prng.js";
import { formatBlockList, listFromState, parseBlockList, rangesOfList } from "./block-list.js";
import { findingsOfMapfile, formatMapfile, mapfileFromState, parseMapfile } from "./ddrescue-mapfile.js";
import { DmSimulator } from "./dm-simulator.js";
import { dmTableFromState, formatDmTable, parseDmTable } from "./dm-table.js";
import { planImport, planIsEmpty } from "./import-plan.js";
import { SECTOR_BYTES, type RemappedBlock, type RemapState } from "./remap-state.js";

const CASES = 300;
const BLOCK_SIZES = [512, 1024, 4096, 65536];

function randomState(rng: Prng): RemapState {
  const blockSize = BLOCK_SIZES[rng.nextInt(BLOCK_SIZES.length)]!;
  const blocks = 1 + rng.nextInt(200);
  // Sometimes a partial last block (still a whole number of sectors).
  const tail = rng.nextInt(3) === 0 ? SECTOR_BYTES * rng.nextInt(blockSize / SECTOR_BYTES) : 0;
  const sizeBytes = blocks * blockSize + tail;
  const count = Math.ceil(sizeBytes / blockSize);
  const sectorsPerBlock = blockSize / SECTOR_BYTES;
  const remapped: RemappedBlock[] = [];
  const pending: number[] = [];
  const suspects: number[] = [];
  let slot = 0;
  for (let b = 0; b < count; b++) {
    const roll = rng.nextInt(10);
    if (roll === 0) {
      const lostSectors: number[] = [];
      if (rng.nextInt(3) === 0) {
        const inBlock = Math.min(sectorsPerBlock, (sizeBytes - b * blockSize) / SECTOR_BYTES);
        for (let s = 0; s < inBlock; s++) if (rng.nextInt(4) === 0) lostSectors.push(s);
      }
      const spare = rng.nextInt(2);
      remapped.push({ block: b, spare, spareOffsetBytes: 8192 + slot++ * blockSize, lostSectors });
    } else if (roll === 1) pending.push(b);
    else if (roll === 2) suspects.push(b);
  }
  return { blockSize, sizeBytes, remapped, pending, suspects };
}

const withoutFindings = (s: RemapState): RemapState => ({ ...s, pending: [], suspects: [] });

describe("export then import is the identity", () => {
  it(`ddrescue mapfiles, with and without offsets (${CASES} random states)`, () => {
    const rng = new Prng(1401);
    for (let i = 0; i < CASES; i++) {
      const state = randomState(rng);
      // The mapfile describes main, a disk main starts inside, or a device starting at block k of main.
      const k = rng.nextInt(4);
      const placement = [
        {},
        { mainOffsetBytes: 512 * rng.nextInt(1 << 16) },
        { offsetBytes: k * state.blockSize },
      ][i % 3]!;
      const from = i % 3 === 2 ? k : 0;
      const mapfile = mapfileFromState(state, placement);
      const text = formatMapfile(mapfile, [`case ${i}`]);
      assert.deepEqual(parseMapfile(text), mapfile, `case ${i}: parse(format(m)) = m`);
      const findings = findingsOfMapfile(parseMapfile(text), state.sizeBytes, placement);
      const plan = planImport(withoutFindings(state), findings);
      assert.deepEqual(
        plan.markPending,
        state.pending.filter((b) => b >= from),
        `case ${i}: pending`,
      );
      assert.deepEqual(
        plan.addSuspects,
        state.suspects.filter((b) => b >= from),
        `case ${i}: suspects`,
      );
      assert.ok(planIsEmpty(planImport(state, findings)), `case ${i}: re-import changes nothing`);
    }
  });

  it(`badblocks / e2fsck lists in units up to the block size, offsets on block boundaries (${CASES} states)`, () => {
    const rng = new Prng(1402);
    for (let i = 0; i < CASES; i++) {
      const state = randomState(rng);
      const units = [512, 1024, 4096].filter((u) => u <= state.blockSize);
      const unitBytes = units[rng.nextInt(units.length)]!;
      const firstBlock = rng.nextInt(3) === 0 ? rng.nextInt(5) : 0;
      const placement = { unitBytes, offsetBytes: firstBlock * state.blockSize };
      const text = formatBlockList(listFromState(state, placement));
      const ranges = rangesOfList(parseBlockList(text), state.sizeBytes, placement);
      const plan = planImport(withoutFindings(state), { bad: ranges, suspect: [], outsideBytes: 0 });
      assert.deepEqual(
        plan.markPending,
        state.pending.filter((b) => b >= firstBlock),
        `case ${i}`,
      );
      assert.ok(
        planIsEmpty(planImport(state, { bad: ranges, suspect: [], outsideBytes: 0 })),
        `case ${i}: idempotent`,
      );
    }
  });
});

describe("dm tables", () => {
  it(`serve in the simulator exactly what the remapped device serves (${CASES / 3} random states)`, () => {
    const rng = new Prng(1403);
    for (let i = 0; i < CASES / 3; i++) {
      const state = randomState(rng);
      const main = rng.fill(new Uint8Array(state.sizeBytes));
      const spareBytes = 8192 + (state.remapped.length + 1) * state.blockSize;
      const spares = [rng.fill(new Uint8Array(spareBytes)), rng.fill(new Uint8Array(spareBytes))];
      const segments = parseDmTable(
        formatDmTable(dmTableFromState(state, { mainPath: "m", sparePaths: ["s0", "s1"] })),
      );
      for (let k = 1; k < segments.length; k++) {
        const a = segments[k - 1]!;
        const b = segments[k]!;
        const continues =
          a.target === b.target &&
          (a.target === "error" ||
            (b.target === "linear" &&
              a.device === b.device &&
              a.offsetSectors + a.lengthSectors === b.offsetSectors));
        assert.ok(!continues, `case ${i}: segments ${k - 1} and ${k} are not coalesced`);
      }
      const sim = new DmSimulator(
        segments,
        new Map([
          ["m", main],
          ["s0", spares[0]!],
          ["s1", spares[1]!],
        ]),
      );
      assert.equal(sim.sizeSectors * SECTOR_BYTES, state.sizeBytes);
      const remapped = new Map(state.remapped.map((r) => [r.block, r]));
      const pending = new Set(state.pending);
      for (let sector = 0; sector < sim.sizeSectors; sector++) {
        const block = Math.floor((sector * SECTOR_BYTES) / state.blockSize);
        const within = sector - (block * state.blockSize) / SECTOR_BYTES;
        const r = remapped.get(block);
        let expected: Uint8Array | "error";
        if (pending.has(block) || r?.lostSectors.includes(within)) expected = "error";
        else if (r) {
          const at = r.spareOffsetBytes + within * SECTOR_BYTES;
          expected = spares[r.spare]!.subarray(at, at + SECTOR_BYTES);
        } else expected = main.subarray(sector * SECTOR_BYTES, (sector + 1) * SECTOR_BYTES);
        const got = sim.readSector(sector);
        if (expected === "error" || got === "error")
          assert.equal(got, expected, `case ${i} sector ${sector}`);
        else assert.ok(Buffer.from(got).equals(expected), `case ${i} sector ${sector}: bytes differ`);
      }
    }
  });
});
