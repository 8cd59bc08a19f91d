// Seeded property test: random reads, writes, zeroing, trims, flushes and restarts of random shape
// (unaligned, spanning blocks, concurrent on disjoint ranges) with random main faults, against a flat
// model. A read returns exactly the model's bytes, or fails with MediumError only where data may be unknown.
import { test } from "node:test";
import assert from "node:assert/strict";
import { MediumError } from "../block/errors.js";
import { Prng } from "../block/prng.js";
import { TimeFaults } from "../testing/time-faults.js";
import { makeRig } from "./testing/rig.js";

const BS = 2048;
const BLOCKS = 48;
const SIZE = BS * BLOCKS;
const SECTOR = 512;

interface Model {
  data: Uint8Array;
  /** 1: the byte may be unknown (its block was unreadable on main at some point and not fully rewritten). */
  unknown: Uint8Array;
  /** 1: the byte was trimmed and not rewritten: zero is also acceptable. */
  mayBeZero: Uint8Array;
}

function applyWrite(model: Model, offset: number, bytes: Uint8Array): void {
  model.data.set(bytes, offset);
  model.mayBeZero.fill(0, offset, offset + bytes.length);
  // Only whole rewritten sectors become known again (a partly written lost sector stays lost).
  const first = Math.ceil(offset / SECTOR) * SECTOR;
  const end = Math.floor((offset + bytes.length) / SECTOR) * SECTOR;
  if (end > first) model.unknown.fill(0, first, end);
}

function checkRead(model: Model, offset: number, got: Uint8Array | Error): void {
  const len = got instanceof Error ? 0 : got.length;
  if (got instanceof Error) {
    assert.ok(got instanceof MediumError, `unexpected ${got.name}: ${got.message}`);
    return;
  }
  for (let i = 0; i < len; i++) {
    const at = offset + i;
    const ok = got[i] === model.data[at] || (model.mayBeZero[at] === 1 && got[i] === 0);
    assert.ok(ok, `byte ${at}: read ${got[i]}, model ${model.data[at]} (unknown ${model.unknown[at]})`);
  }
}

test("property: random I/O with random faults matches a flat model and never fabricates a byte", async () => {
  const timeTally = { slowWrites: 0, landedLate: 0, outageReads: 0, fenced: 0 };
  for (const seed of [1, 2, 3]) {
    const rng = new Prng(seed);
    let time!: TimeFaults;
    const rig = makeRig({
      blockSize: BS,
      blocks: BLOCKS,
      spareSlots: [40, 40],
      policy: { readRetryBudgetMs: 25000, mainWriteTimeoutMs: 100 },
      // Time-domain faults: slow main writes that land long after their budget, outage windows.
      wrapMain: (main, clock) => (time = new TimeFaults(main, BS, clock)),
    });
    // Rewriting a sector heals it on main (firmware reallocation): data main accepted is readable.
    rig.main.healOnWrite = true;
    const model: Model = {
      data: new Uint8Array(SIZE),
      unknown: new Uint8Array(SIZE),
      mayBeZero: new Uint8Array(SIZE),
    };
    let failedReads = 0;
    for (let step = 0; step < 700; step++) {
      const faultRoll = rng.next();
      if (faultRoll < 0.03) {
        const block = rng.nextInt(BLOCKS);
        // Half the time one bad sector (salvaged with lost sectors), else the whole block (pending).
        if (rng.next() < 0.5) rig.main.badReads.add((block * BS) / SECTOR + rng.nextInt(BS / SECTOR));
        else rig.main.breakBlock(block, BS, { reads: true });
        model.unknown.fill(1, block * BS, (block + 1) * BS);
      } else if (faultRoll < 0.06) {
        rig.main.badWrites.add(rng.nextInt(SIZE / SECTOR));
      } else if (faultRoll < 0.09) {
        rig.main.transientReads.set(rng.nextInt(SIZE / SECTOR), 1 + rng.nextInt(2));
      } else if (faultRoll < 0.12) {
        rig.main.transientWrites.set(rng.nextInt(SIZE / SECTOR), 1 + rng.nextInt(2));
      } else if (faultRoll < 0.14) {
        // A slow block: the next write to it outlives its budget (the block moves to a spare) and
        // reaches main later; or an outage window of 150 ms (virtual) on main during a read.
        if (rng.next() < 0.5) {
          const block = rng.nextInt(BLOCKS);
          time.slowBlocks.add(block);
          const bytes = rng.fill(new Uint8Array(BS));
          applyWrite(model, block * BS, bytes);
          let done = false;
          const w = rig.dev.write(block * BS, bytes).finally(() => (done = true));
          while (!done && time.heldWrites === 0) await new Promise<void>((resolve) => setImmediate(resolve));
          if (!done) time.clock.advance(100);
          await w;
          time.slowBlocks.delete(block);
        } else {
          time.outage(150);
          const target = new Uint8Array(SIZE);
          await rig.dev.read(0, target).then(
            () => checkRead(model, 0, target),
            (err: Error) => checkRead(model, 0, err),
          );
          time.outageUntilMs = -1;
        }
        continue;
      } else if (faultRoll < 0.145) {
        await time.land();
        continue;
      } else if (faultRoll < 0.15) {
        await time.land();
        await rig.dev.flush();
        rig.crash();
        await rig.dev.idle();
        const { badReads, badWrites } = rig.main;
        rig.reopen();
        rig.main.healOnWrite = true;
        for (const s of badReads) rig.main.badReads.add(s);
        for (const s of badWrites) rig.main.badWrites.add(s);
        continue;
      }
      // A batch of concurrent operations on disjoint block ranges.
      const used = new Uint8Array(BLOCKS);
      const batch: Promise<void>[] = [];
      const n = 1 + rng.nextInt(4);
      for (let k = 0; k < n; k++) {
        const aligned = rng.next() < 0.3;
        let offset = aligned ? rng.nextInt(BLOCKS) * BS : rng.nextInt(SIZE);
        let length = aligned ? BS * (1 + rng.nextInt(3)) : 1 + rng.nextInt(3 * BS);
        if (rng.next() < 0.05) {
          offset = rng.nextInt(4) * BS;
          length = SIZE / 2; // a big request
        }
        length = Math.min(length, SIZE - offset);
        const b0 = Math.floor(offset / BS);
        const b1 = Math.floor((offset + length - 1) / BS);
        if (used.subarray(b0, b1 + 1).some((u) => u)) continue;
        used.fill(1, b0, b1 + 1);
        const kind = rng.next();
        if (kind < 0.4) {
          const target = new Uint8Array(length);
          batch.push(
            rig.dev.read(offset, target).then(
              () => checkRead(model, offset, target),
              (err: Error) => {
                failedReads++;
                checkRead(model, offset, err);
                assert.ok(
                  model.unknown.subarray(offset, offset + length).some((u) => u),
                  `read ${offset}+${length} failed: ${err.message}`,
                );
              },
            ),
          );
        } else if (kind < 0.8) {
          const bytes = rng.fill(new Uint8Array(length));
          applyWrite(model, offset, bytes);
          batch.push(rig.dev.write(offset, bytes, { fua: rng.next() < 0.1 }));
        } else if (kind < 0.9) {
          applyWrite(model, offset, new Uint8Array(length));
          batch.push(rig.dev.writeZeroes(offset, length));
        } else if (kind < 0.95) {
          model.mayBeZero.fill(1, offset, offset + length);
          batch.push(rig.dev.trim(offset, length));
        } else {
          batch.push(rig.dev.flush());
        }
      }
      await Promise.all(batch);
    }
    await time.land();
    await rig.dev.idle();
    const st = rig.dev.status();
    timeTally.slowWrites += time.counts.slowWrites;
    timeTally.landedLate += time.counts.landedLate;
    timeTally.outageReads += time.counts.outageReads;
    timeTally.fenced += st.fence.abandonedWrites;
    assert.equal(st.spare.usedBlocks, st.remappedBlocks + st.spare.quarantinedBlocks);
    assert.equal(st.state === "healthy" || st.state === "degraded", true);
    assert.ok(st.remappedBlocks > 0 && failedReads > 0, `seed ${seed} exercised remaps and failures`);
    await rig.dev.close();
  }
  console.log(
    `property test time-domain faults: ${timeTally.slowWrites} slow main writes (${timeTally.fenced} abandoned and fenced, ${timeTally.landedLate} landed late), ${timeTally.outageReads} main reads failed in outage windows`,
  );
  assert.ok(timeTally.fenced > 0 && timeTally.landedLate > 0 && timeTally.outageReads > 0);
});
