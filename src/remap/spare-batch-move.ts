// Moving many remapped blocks off one spare at once (the drain's copy engine): lock the blocks, read
// their old slots in runs of contiguous slots, write the new slots in runs; then, for one batch or a
// group of written batches, flush each destination spare once, commit every move in one metadata
// append, free the old slots and unlock.
import { tryBulkReadNow } from "../block/answer-now.js";
import type { BlockDevice } from "../block/block-device.js";
import { MediumError, NoSpaceError, ReadOnlyError } from "../block/errors.js";
import { CopyFailure, isCopyReadFailure, lendsFile, type CopyOffload } from "../block/copy-offload.js";
import { SYNC_IO_MAX_BYTES } from "../block/file-device.js";
import type { JournalRecord } from "../metadata/metadata-store.js";
import type { RemapCore } from "./remap-core.js";

const SECTOR_BYTES = 512;

/**
 * Largest single read or write of a run; a longer run goes out as pieces in parallel. 1 MiB pieces
 * (dd's size) drained faster than 2 MiB ones on tmpfs (1240 - 1285 vs 885 - 943 MiB/s, three
 * alternated runs) and no slower on ext4 or O_DIRECT; 4 and 8 MiB calls were much slower on tmpfs
 * (550 - 880 MiB/s): big buffers do not stay in the CPU caches (docs/PERFORMANCE.md).
 */
const PIECE_BYTES = 1 << 20;

/**
 * `io(offset, part)` over `bytes` cut into PIECE_BYTES pieces, all in flight at once; settles only
 * when every piece has (so no piece still uses the buffer), with the first piece's error if any.
 */
async function inPieces(
  bytes: Uint8Array,
  io: (offsetInRun: number, part: Uint8Array) => Promise<void>,
): Promise<void> {
  if (bytes.length <= PIECE_BYTES) return io(0, bytes);
  const parts: Promise<void>[] = [];
  for (let at = 0; at < bytes.length; at += PIECE_BYTES)
    parts.push(io(at, bytes.subarray(at, Math.min(bytes.length, at + PIECE_BYTES))));
  for (const outcome of await Promise.allSettled(parts))
    if (outcome.status === "rejected") throw outcome.reason;
}

/**
 * Read `target` from `at` now where the spare answers at once (a file in memory), a PIECE_BYTES piece
 * per call where it can (tryBulkReadNow): no threadpool round trip, while the writes of the batches
 * before it go on. False at the first piece the spare refuses (a disk, a failing range): the caller
 * then reads the whole run through read().
 */
function readNow(from: BlockDevice, at: number, target: Uint8Array): boolean {
  for (let off = 0; off < target.length; off += PIECE_BYTES) {
    const end = Math.min(target.length, off + PIECE_BYTES);
    if (!tryBulkReadNow(from, at + off, target.subarray(off, end), SYNC_IO_MAX_BYTES)) return false;
  }
  return true;
}

/** A batch whose blocks are locked and whose old slots have been read. */
export interface SpareBatch {
  /** Blocks still on the spare when locked, in old-slot order. */
  readonly blocks: number[];
  readonly oldSlots: number[];
  /** Block i's bytes at [i * blockSize, +blockSize). */
  readonly data: Uint8Array;
  /** Lost-sector masks of blocks whose old slot could not be read, by block. */
  readonly lost: Map<number, Uint8Array>;
  /** Release every lock of the batch. */
  readonly unlock: () => void;
  /** True once user I/O waited for a block of the batch (commit it without waiting for more). */
  readonly contended: () => boolean;
}

/** What a committed batch did. */
export interface SpareBatchOutcome {
  readonly moved: number;
  readonly lost: number;
}

/** [start, end) runs of 0..count-1, at most `maxRun` long, where `continues(i)` joins i to i - 1. */
function runs(count: number, maxRun: number, continues: (i: number) => boolean): [number, number][] {
  const out: [number, number][] = [];
  let start = 0;
  for (let i = 1; i <= count; i++) {
    if (i < count && i - start < maxRun && continues(i)) continue;
    out.push([start, i]);
    start = i;
  }
  return count === 0 ? [] : out;
}

/** Whether `slot` follows `before` on the same spare (slot numbers go on from one spare to the next). */
function follows(core: RemapCore, slot: number, before: number): boolean {
  return slot === before + 1 && core.pool.spareIndexOf(slot) === core.pool.spareIndexOf(before);
}

/**
 * Runs of consecutive slots on one spare in `order` (indexes into `slots`, sorted by slot): [start,
 * end) of order; a run ends at a spare's last slot.
 */
function runsOf(
  core: RemapCore,
  slots: readonly number[],
  order: readonly number[],
  maxRun: number,
): [number, number][] {
  return runs(order.length, maxRun, (i) => follows(core, slots[order[i]!]!, slots[order[i - 1]!]!));
}

function isAscending(values: readonly number[]): boolean {
  for (let i = 1; i < values.length; i++) if (values[i]! < values[i - 1]!) return false;
  return true;
}

/** Read the slot of block i (of `blocks`) alone; an unreadable slot gives a mask of every sector. */
async function readOne(
  core: RemapCore,
  slot: number,
  block: number,
  into: Uint8Array,
): Promise<Uint8Array | undefined> {
  const bytes = core.blockBytes(block);
  try {
    await core.spareOf(slot).read(core.pool.offsetOf(slot), into.subarray(0, bytes));
    return undefined;
  } catch (err) {
    if (!(err instanceof MediumError)) throw err;
    core.count("errors.spare");
    const mask = new Uint8Array(Math.ceil(core.blockSize / SECTOR_BYTES / 8));
    for (let s = 0; s < bytes / SECTOR_BYTES; s++) mask[s >> 3]! |= 1 << (s & 7);
    into.fill(0);
    return mask;
  }
}

/** A batch whose blocks are locked, before its old slots are read. */
interface LockedBatch {
  /** Blocks still on the spare when locked, in old-slot order. */
  readonly blocks: number[];
  readonly oldSlots: number[];
  readonly unlock: () => void;
  readonly contended: () => boolean;
}

/**
 * Lock `candidates` and find those still on spare `index`, in old-slot order. `onContended` is
 * called when user I/O waits for a block of the batch.
 */
async function lockSpareBatch(
  core: RemapCore,
  candidates: readonly number[],
  index: number,
  onContended?: () => void,
): Promise<LockedBatch> {
  const sorted = isAscending(candidates) ? candidates : [...candidates].sort((a, b) => a - b);
  let waitedFor = false;
  const unlock = await core.guard.lockMany(sorted, () => {
    waitedFor = true;
    onContended?.();
  });
  let blocks: number[] = [];
  let oldSlots: number[] = [];
  for (const block of sorted) {
    const slot = core.table.get(block);
    if (slot >= 0 && core.pool.spareIndexOf(slot) === index) {
      blocks.push(block);
      oldSlots.push(slot);
    }
  }
  // Slots handed out in block order (the usual case) need no sort to be read in runs.
  if (!isAscending(oldSlots)) {
    const order = oldSlots.map((_, i) => i).sort((a, b) => oldSlots[a]! - oldSlots[b]!);
    blocks = order.map((i) => blocks[i]!);
    oldSlots = order.map((i) => oldSlots[i]!);
  }
  return { blocks, oldSlots, unlock, contended: () => waitedFor };
}

/**
 * Read the old slots of a locked batch, a run of contiguous slots per read (a run that fails is read
 * block by block; an unreadable block's sectors become lost). Unlocks the batch when it throws.
 */
async function readLockedBatch(
  core: RemapCore,
  locked: LockedBatch,
  maxRunBlocks: number,
  buffer?: Uint8Array,
): Promise<SpareBatch> {
  try {
    const { blocks, oldSlots } = locked;
    const bs = core.blockSize;
    const bytes = blocks.length * bs;
    const data = buffer && buffer.length >= bytes ? buffer.subarray(0, bytes) : new Uint8Array(bytes);
    const lost = new Map<number, Uint8Array>();
    const order = oldSlots.map((_, i) => i);
    for (const [start, end] of runsOf(core, oldSlots, order, maxRunBlocks)) {
      const target = data.subarray(start * bs, end * bs);
      try {
        // The last block of main may be partial: its slot is whole, the bytes past main are unused.
        const from = core.spareOf(oldSlots[start]!);
        const at = core.pool.offsetOf(oldSlots[start]!);
        if (!readNow(from, at, target))
          await inPieces(target, (offset, part) => from.read(at + offset, part));
      } catch (err) {
        if (!(err instanceof MediumError)) throw err;
        for (let i = start; i < end; i++) {
          const mask = await readOne(core, oldSlots[i]!, blocks[i]!, data.subarray(i * bs, (i + 1) * bs));
          if (mask) lost.set(blocks[i]!, mask);
        }
      }
    }
    return { ...locked, data, lost };
  } catch (err) {
    locked.unlock();
    throw err;
  }
}

/**
 * Move the blocks of `candidates` still on spare `index` to new slots on other spares, written and
 * not yet flushed nor committed (still locked): read (readLockedBatch), then written (writeSpareBatch). With
 * `copies`, where the spares lend their files (copy-offload.ts), worker threads copy old slots to new
 * ones and the batch's bytes never reach the event loop: when a copy's read fails, the batch is read
 * here (block by block where a run fails) and written to the same new slots; a copy whose write fails
 * fails the batch like a failed write.
 */
export async function moveSpareBatch(
  core: RemapCore,
  candidates: readonly number[],
  index: number,
  maxRunBlocks: number,
  buffer?: Uint8Array,
  onContended?: () => void,
  copies?: CopyOffload,
): Promise<WrittenSpareBatch> {
  const locked = await lockSpareBatch(core, candidates, index, onContended);
  let allocated: number[] | undefined;
  if (copies) {
    const copied = await copyLockedBatch(core, locked, index, maxRunBlocks, copies);
    if (copied && !Array.isArray(copied)) return copied;
    allocated = copied;
  }
  let batch: SpareBatch;
  try {
    batch = await readLockedBatch(core, locked, maxRunBlocks, buffer);
  } catch (err) {
    for (const slot of allocated ?? []) core.pool.release(slot);
    throw err;
  }
  return writeSpareBatch(core, batch, index, maxRunBlocks, allocated);
}

const NO_BYTES = new Uint8Array(0);

/**
 * The copy of a locked batch by worker threads (moveSpareBatch). Undefined, with nothing allocated,
 * when the source spare does not lend its file; the new slots (allocated, not written) when a
 * destination does not or a read failed: the caller reads the batch and writes them itself. The
 * batch stays locked except when this throws.
 */
async function copyLockedBatch(
  core: RemapCore,
  locked: LockedBatch,
  index: number,
  maxRunBlocks: number,
  copies: CopyOffload,
): Promise<WrittenSpareBatch | number[] | undefined> {
  const { blocks, oldSlots } = locked;
  if (blocks.length === 0 || !lendsFile(core.spares[index]!, false)) return undefined;
  const bs = core.blockSize;
  const newSlots: number[] = [];
  const quarantined = new Set<number>();
  const touched = new Set<number>();
  let readFailed = false;
  try {
    if (core.readOnlyReason !== undefined) throw new ReadOnlyError(core.name, core.readOnlyReason);
    newSlots.push(...allocateElsewhere(core, index, blocks.length));
    for (const slot of newSlots) if (!lendsFile(core.spareOf(slot), true)) return newSlots; // the event loop's way
    // Runs contiguous in both the old slots and the new ones, on one spare (usually the whole batch).
    const copyRuns = runs(
      blocks.length,
      maxRunBlocks,
      (i) => oldSlots[i] === oldSlots[i - 1]! + 1 && follows(core, newSlots[i]!, newSlots[i - 1]!),
    );
    const pending: Promise<void>[] = [];
    for (const [from, end] of copyRuns) {
      const first = newSlots[from]!;
      touched.add(core.pool.spareIndexOf(first));
      // Defined: both spares lend their files (checked above) and the range is inside them.
      const copy = copies.copy(
        core.spareOf(oldSlots[from]!),
        core.pool.offsetOf(oldSlots[from]!),
        core.spareOf(first),
        core.pool.offsetOf(first),
        (end - from) * bs,
      )!;
      pending.push(
        copy.catch((err: unknown) => {
          if (isCopyReadFailure(err)) {
            readFailed = true;
            throw err;
          }
          // Not a failure of a spare (the copy never ran): the slots are released below.
          if (!(err instanceof CopyFailure)) throw err;
          core.count("errors.spare");
          core.failingSpares.add(core.pool.spareIndexOf(first));
          for (let k = from; k < end; k++) {
            quarantined.add(newSlots[k]!);
            core.quarantinedSlots++;
            core.pool.noteQuarantined(newSlots[k]!);
          }
          throw err.cause;
        }),
      );
    }
    // Every run settles before the outcome is known, so no worker still writes a released slot.
    const outcomes = await Promise.allSettled(pending);
    const failed = outcomes.find((o) => o.status === "rejected" && !isCopyReadFailure(o.reason));
    if (failed) throw (failed as PromiseRejectedResult).reason;
    // A slot of an unreadable range: the caller reads block by block (lost sectors) and rewrites.
    if (readFailed) return newSlots;
  } catch (err) {
    for (const slot of newSlots) if (!quarantined.has(slot)) core.pool.release(slot);
    locked.unlock();
    throw err;
  }
  return { batch: { ...locked, data: NO_BYTES, lost: new Map() }, newSlots, touched };
}

/**
 * `count` free slots not on spare `index`, preferably not on a spare that failed a write this session
 * (or is drained); throws NoSpaceError when the other spares lack room.
 */
function allocateElsewhere(core: RemapCore, index: number, count: number): number[] {
  const slots = core.pool.allocateMany(count, new Set([index, ...core.failingSpares]));
  if (slots.length < count) slots.push(...core.pool.allocateMany(count - slots.length, new Set([index])));
  if (slots.length < count) {
    for (const slot of slots) core.pool.release(slot);
    throw new NoSpaceError(core.name, `no room outside spare ${index} for a batch of ${count} blocks`);
  }
  return slots;
}

/** A batch whose new slots are written (not yet flushed nor committed); still locked. */
export interface WrittenSpareBatch {
  readonly batch: SpareBatch;
  /** New slot of batch.blocks[i]. */
  readonly newSlots: readonly number[];
  /** Spares written (each flushed once before the commit). */
  readonly touched: ReadonlySet<number>;
}

/**
 * Write a read batch to new slots on other spares (runs of contiguous slots), without flush or
 * commit; the batch's buffer is free again when this settles. A failed write releases the new slots
 * (the failed run's are quarantined), unlocks the batch and throws: the blocks stay where they were.
 * `allocated`: new slots already taken for the batch's blocks, in order (else allocated here).
 */
async function writeSpareBatch(
  core: RemapCore,
  batch: SpareBatch,
  index: number,
  maxRunBlocks: number,
  allocated?: readonly number[],
): Promise<WrittenSpareBatch> {
  const { blocks, data } = batch;
  const bs = core.blockSize;
  const newSlots: number[] = allocated ? [...allocated] : [];
  /** Slots of a run whose write failed: kept allocated, never reused this session (as any remap). */
  const quarantined = new Set<number>();
  const touched = new Set<number>();
  try {
    if (core.readOnlyReason !== undefined) throw new ReadOnlyError(core.name, core.readOnlyReason);
    if (!allocated) newSlots.push(...allocateElsewhere(core, index, blocks.length));
    // Slots are usually handed out in the order asked for: then no sort, and the read buffer is the run.
    const order = newSlots.map((_, i) => i);
    if (!isAscending(newSlots)) order.sort((a, b) => newSlots[a]! - newSlots[b]!);
    const writes: Promise<void>[] = [];
    for (const [start, end] of runsOf(core, newSlots, order, maxRunBlocks)) {
      let inPlace = true;
      for (let k = start; k < end && inPlace; k++) inPlace = order[k] === k;
      const run = inPlace ? data.subarray(start * bs, end * bs) : new Uint8Array((end - start) * bs);
      if (!inPlace)
        for (let k = start; k < end; k++)
          run.set(data.subarray(order[k]! * bs, (order[k]! + 1) * bs), (k - start) * bs);
      const first = newSlots[order[start]!]!;
      touched.add(core.pool.spareIndexOf(first));
      const to = core.spareOf(first);
      const at = core.pool.offsetOf(first);
      writes.push(
        inPieces(run, (offset, part) => to.write(at + offset, part)).catch((err: unknown) => {
          core.count("errors.spare");
          core.failingSpares.add(core.pool.spareIndexOf(first));
          for (let k = start; k < end; k++) {
            const slot = newSlots[order[k]!]!;
            quarantined.add(slot);
            core.quarantinedSlots++;
            core.pool.noteQuarantined(slot);
          }
          throw err;
        }),
      );
    }
    // Every run settles before the batch is given up, so no write still uses its buffer.
    for (const outcome of await Promise.allSettled(writes))
      if (outcome.status === "rejected") throw outcome.reason;
  } catch (err) {
    for (const slot of newSlots) if (!quarantined.has(slot)) core.pool.release(slot);
    batch.unlock();
    throw err;
  }
  return { batch, newSlots, touched };
}

/**
 * Make written batches durable as one group: flush every spare they wrote once, commit all their
 * moves in one metadata append (lost-sector records after the remaps), then free the old slots and
 * unlock. A failed flush or commit releases the new slots and unlocks: the blocks stay where they
 * were (the drain can run again).
 */
export async function commitSpareBatches(
  core: RemapCore,
  written: readonly WrittenSpareBatch[],
): Promise<SpareBatchOutcome> {
  let moved = 0;
  let lostCount = 0;
  try {
    if (core.readOnlyReason !== undefined) throw new ReadOnlyError(core.name, core.readOnlyReason);
    const touched = new Set<number>();
    for (const w of written) for (const s of w.touched) touched.add(s);
    await Promise.all([...touched].map((s) => core.spares[s]!.flush()));
    const records: JournalRecord[] = [];
    for (const { batch, newSlots } of written)
      for (let i = 0; i < batch.blocks.length; i++)
        records.push({ type: "remap", block: batch.blocks[i]!, slot: newSlots[i]!, reason: "manual" });
    // Lost-sector records follow every remap record (a remap keeps a block's lost sectors).
    for (const { batch } of written)
      for (const [block, sectorMask] of batch.lost) records.push({ type: "lost", block, sectorMask });
    await core.commit(records, () => {
      for (const { batch, newSlots } of written) {
        for (let i = 0; i < batch.blocks.length; i++) core.table.set(batch.blocks[i]!, newSlots[i]!);
        for (const [block, mask] of batch.lost) core.lost.set(block, mask);
      }
    });
  } catch (err) {
    for (const { batch, newSlots } of written) {
      for (const slot of newSlots) core.pool.release(slot);
      batch.unlock();
    }
    throw err;
  }
  for (const { batch } of written) {
    for (const slot of batch.oldSlots) core.pool.release(slot);
    moved += batch.blocks.length;
    lostCount += batch.lost.size;
    batch.unlock();
  }
  core.count("drain.moved", moved);
  return { moved, lost: lostCount };
}
