// Control verbs of a remapped device (CLI / HTTP API): remap, unremap, mark / clear pending, list.
import { MediumError } from "../block/errors.js";
import { markPendingLocked, moveToSpareLocked, readMainBlock, writeLower } from "./block-ops.js";
import { BlockRangeError, BlockStateError } from "./errors.js";
import { countLost, isLost, SECTOR_BYTES } from "./lost-sectors.js";
import type { RemapCore } from "./remap-core.js";

/** What remapBlock did. */
export type RemapOutcome = "remapped" | "already-remapped" | "pending";

/** One remapped block in a listing. */
export interface RemapEntry {
  readonly block: number;
  readonly slot: number;
  /** Index of the spare holding the slot. */
  readonly spare: number;
  /** Byte offset of the slot on that spare. */
  readonly spareOffsetBytes: number;
  /** Indexes of lost 512-byte sectors inside the block (empty when none). */
  readonly lostSectors: number[];
  /** Why it was remapped, when that happened in this session (the journal keeps the reason code). */
  readonly reason?: string;
  /** Detail of the reason, e.g. "reads failed on 2 occasions within 86400000 ms". */
  readonly detail?: string;
  /** Failed main reads of the block counted this session before it moved. */
  readonly readErrors?: number;
}

/** Paging of list(). */
export interface ListOptions {
  /** First block to list (default 0); pass the previous result's nextCursor. */
  readonly cursor?: number;
  /** Most blocks (remapped + pending) per page (default 1000). */
  readonly limit?: number;
}

/** One page of remapped and pending blocks, in block order. */
export interface ListResult {
  readonly entries: RemapEntry[];
  readonly pending: number[];
  /** Cursor of the next page, or null when this was the last. */
  readonly nextCursor: number | null;
}

function assertBlock(core: RemapCore, block: number): void {
  if (!Number.isSafeInteger(block) || block < 0 || block >= core.blockCount) {
    throw new BlockRangeError(core.name, block, core.blockCount);
  }
}

/** Remap a block now: copy its data if readable, else mark it pending. */
export function remapBlock(core: RemapCore, block: number): Promise<RemapOutcome> {
  assertBlock(core, block);
  return core.guard.withLock(block, async () => {
    if (core.table.has(block)) return "already-remapped";
    // A pending block has no data to copy; its next write remaps it.
    if (core.pending.has(block)) return "pending";
    const full = new Uint8Array(core.blockSize);
    if ((await readMainBlock(core, block, full, 1 + core.policy.readRetries)) < 0) {
      await markPendingLocked(core, block, true);
      return "pending";
    }
    await moveToSpareLocked(core, block, full, undefined, "manual");
    return "remapped";
  });
}

/** Copy a remapped block back to main (flushed), then free its slot. */
export function unremapBlock(core: RemapCore, block: number): Promise<void> {
  assertBlock(core, block);
  return core.guard.withLock(block, async () => {
    const slot = core.table.get(block);
    if (slot < 0) throw new BlockStateError(core.name, block, "is not remapped");
    if (core.lost.has(block)) {
      throw new BlockStateError(core.name, block, "has lost sectors; rewrite them before unremapping");
    }
    const full = new Uint8Array(core.blockSize);
    const mirror = core.mirrors.size > 0 ? core.mirrors.get(block) : -1;
    try {
      await core.spareOf(slot).read(core.pool.offsetOf(slot), full);
    } catch (err) {
      // A mirrored block is read from its second copy when the first fails.
      if (!(err instanceof MediumError) || mirror < 0) throw err;
      core.count("errors.spare");
      await core.spareOf(mirror).read(core.pool.offsetOf(mirror), full);
    }
    let written = false;
    let lastError: unknown;
    for (let a = 0; a <= core.policy.writeRetries && !written; a++) {
      try {
        await writeLower(core.main, block * core.blockSize, full.subarray(0, core.blockBytes(block)), false);
        await core.main.flush();
        written = true;
      } catch (err) {
        if (!(err instanceof MediumError)) throw err;
        core.count("errors.write");
        lastError = err;
      }
    }
    if (!written) {
      throw new MediumError(
        core.name,
        "write",
        block * core.blockSize,
        core.blockSize,
        `${core.name}: block ${block} could not be written back to main; it stays remapped`,
        { cause: lastError },
      );
    }
    await core.commit([{ type: "unremap", block }], () => {
      core.table.delete(block);
      core.remapNotes.delete(block);
      core.pool.release(slot);
      if (mirror >= 0) {
        core.mirrors.delete(block);
        core.pool.release(mirror);
      }
      core.count("unremaps");
    });
    core.emit("onUnremap", { block, slot });
  });
}

/** Mark a (not remapped) block pending; false when it already was. */
export function markPending(core: RemapCore, block: number): Promise<boolean> {
  assertBlock(core, block);
  return core.guard.withLock(block, async () => {
    if (core.table.has(block)) throw new BlockStateError(core.name, block, "is remapped; its data is known");
    if (core.pending.has(block)) return false;
    await markPendingLocked(core, block);
    return true;
  });
}

/** Clear a pending mark; false when the block was not pending. */
export function clearPending(core: RemapCore, block: number): Promise<boolean> {
  assertBlock(core, block);
  return core.guard.withLock(block, async () => {
    if (!core.pending.has(block)) return false;
    await core.commit([{ type: "clear-pending", block }], () => {
      core.pending.delete(block);
      core.readBackPending.delete(block);
      core.count("pending.cleared");
    });
    core.emit("onPendingCleared", { block, reason: "manual" });
    return true;
  });
}

/** List remapped and pending blocks from `cursor`, at most `limit` of them. */
export function listBlocks(core: RemapCore, options: { cursor?: number; limit?: number }): ListResult {
  const limit = options.limit ?? 1000;
  if (!Number.isSafeInteger(limit) || limit < 1)
    throw new RangeError(`list limit ${limit} is not a positive integer`);
  let at = options.cursor ?? 0;
  if (!Number.isSafeInteger(at) || at < 0) throw new RangeError(`list cursor ${at} is not a block number`);
  const entries: RemapEntry[] = [];
  const pending: number[] = [];
  const sectors = core.blockSize / SECTOR_BYTES;
  while (entries.length + pending.length < limit) {
    const r = core.table.firstInRange(at, Infinity);
    const p = core.pending.firstInRange(at, Infinity);
    if (r < 0 && p < 0) return { entries, pending, nextCursor: null };
    if (r >= 0 && (p < 0 || r <= p)) {
      const slot = core.table.get(r);
      const mask = core.lost.get(r);
      const lostSectors: number[] = [];
      if (mask && countLost(mask) > 0)
        for (let s = 0; s < sectors; s++) if (isLost(mask, s)) lostSectors.push(s);
      const note = core.remapNotes.get(r);
      entries.push({
        block: r,
        slot,
        spare: core.pool.spareIndexOf(slot),
        spareOffsetBytes: core.pool.offsetOf(slot),
        lostSectors,
        ...(note ? { reason: note.reason, detail: note.detail, readErrors: note.readErrors } : {}),
      });
      at = r + 1;
    } else {
      pending.push(p);
      at = p + 1;
    }
  }
  const more = core.table.firstInRange(at, Infinity) >= 0 || core.pending.firstInRange(at, Infinity) >= 0;
  return { entries, pending, nextCursor: more ? at : null };
}
