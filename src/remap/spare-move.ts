// Moving a remapped block from one spare to another (drain of a spare): read the old slot, write and
// flush a slot on another spare, commit the remap, free the old slot, all under the block's lock.
import { MediumError } from "../block/errors.js";
import { moveToSpareLocked } from "./block-ops.js";
import { copiesOf, ensureTwoCopiesLocked } from "./mirror-ops.js";
import type { RemapCore } from "./remap-core.js";

/**
 * What moveOffSpare did: moved; moved with every sector marked lost (the old slot was unreadable);
 * nothing (the block is not on that spare, e.g. unremapped meanwhile); or no slot outside the spare
 * was free (the block was remapped within the spare and its old slot is kept).
 */
export type SpareMoveOutcome = "moved" | "moved-lost" | "not-on-spare" | "no-room";

/** The remapped blocks with a copy (slot or second copy) on spare `index`, in block order. */
export function blocksOnSpare(core: RemapCore, index: number): number[] {
  const blocks: number[] = [];
  // forEach visits live entries only (it folds the delta and drops deleted entries first).
  core.table.forEach((block, slot) => {
    if (core.pool.spareIndexOf(slot) === index) blocks.push(block);
  });
  if (core.mirrors.size === 0) return blocks;
  const onSpare = new Set(blocks);
  core.mirrors.forEach((block, slot) => {
    if (core.pool.spareIndexOf(slot) === index) onSpare.add(block);
  });
  return [...onSpare].sort((a, b) => a - b);
}

/** Move `block` off spare `index` to a slot on another spare; `why` is recorded with the remap. */
export function moveOffSpare(
  core: RemapCore,
  block: number,
  index: number,
  why: string,
): Promise<SpareMoveOutcome> {
  return core.guard.withLock(block, async () => {
    const slot = core.table.get(block);
    const copies = copiesOf(core, block);
    if (copies.length === 2) {
      if (!copies.some((s) => core.pool.spareIndexOf(s) === index)) return "not-on-spare";
      // A mirrored block: its copy there is re-made from a readable copy on another healthy spare
      // (with no room anywhere else the block keeps its copy elsewhere only).
      const outcome = await ensureTwoCopiesLocked(core, block, { leaveSpare: index });
      if (outcome !== "unreadable") {
        const left = copiesOf(core, block).some((s) => core.pool.spareIndexOf(s) === index);
        return left ? "no-room" : "moved";
      }
    }
    if (slot < 0 || core.pool.spareIndexOf(slot) !== index) return "not-on-spare";
    const bytes = core.blockBytes(block);
    const full = new Uint8Array(core.blockSize);
    let mask = core.lost.get(block);
    let lost = false;
    try {
      await core.spareOf(slot).read(core.pool.offsetOf(slot), full.subarray(0, bytes));
    } catch (err) {
      if (!(err instanceof MediumError)) throw err;
      core.count("errors.spare");
      mask = new Uint8Array(Math.ceil(core.blockSize / 512 / 8));
      for (let s = 0; s < bytes / 512; s++) mask[s >> 3]! |= 1 << (s & 7);
      lost = true;
    }
    const next = await moveToSpareLocked(core, block, full, mask, "manual", why);
    if (core.pool.spareIndexOf(next) === index) return "no-room";
    core.pool.release(slot);
    return lost ? "moved-lost" : "moved";
  });
}
