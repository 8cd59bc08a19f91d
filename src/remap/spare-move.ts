// Moving a remapped block from one spare to another (drain of a spare): read the old slot, write and
// flush a slot on another spare, commit the remap, free the old slot, all under the block's lock.
import { MediumError } from "../block/errors.js";
import { moveToSpareLocked } from "./block-ops.js";
import type { RemapCore } from "./remap-core.js";

/**
 * What moveOffSpare did: moved; moved with every sector marked lost (the old slot was unreadable);
 * nothing (the block is not on that spare, e.g. unremapped meanwhile); or no slot outside the spare
 * was free (the block was remapped within the spare and its old slot is kept).
 */
export type SpareMoveOutcome = "moved" | "moved-lost" | "not-on-spare" | "no-room";

/** The remapped blocks whose slot is on spare `index`, in block order. */
export function blocksOnSpare(core: RemapCore, index: number): number[] {
  const blocks: number[] = [];
  core.table.forEach((block, slot) => {
    if (core.table.get(block) === slot && core.pool.spareIndexOf(slot) === index) blocks.push(block);
  });
  return blocks;
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
