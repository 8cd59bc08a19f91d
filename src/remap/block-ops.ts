// Per-block operations of the remap layer: retries, moving a block to a spare, pending marks, lost
// sectors. Functions ending in `Locked` must run inside core.guard.withLock(block).
import type { BlockDevice, WriteOptions } from "../block/block-device.js";
import { MediumError } from "../block/errors.js";
import { FencedRangeError, WriteTimeoutError } from "./errors.js";
import type { RemapReason } from "../metadata/metadata-store.js";
import {
  SECTOR_BYTES,
  anyLostIn,
  clearCovered,
  countLost,
  emptyMask,
  isEmptyMask,
  setLost,
  uncoveredMask,
} from "./lost-sectors.js";
import { backoffDelayMs } from "./remap-clock.js";
import type { RemapCore } from "./remap-core.js";
import { NO_MIRROR } from "../metadata/metadata-store.js";
import { MissingDevice } from "../block/missing-device.js";
import {
  ensureTwoCopiesLocked,
  quarantineSlot,
  repairCopyLocked,
  singleCopy,
  writeNewCopy,
} from "./mirror-ops.js";

const NO_OPTIONS: WriteOptions = {};
const FUA_OPTIONS: WriteOptions = { fua: true };
/** Spare slots tried for one remap before giving up (a failing spare write quarantines its slot). */
const SPARE_WRITE_ATTEMPTS = 3;

/** Write with FUA semantics even on devices without native FUA. */
export async function writeLower(device: BlockDevice, offsetBytes: number, data: Uint8Array, fua: boolean) {
  if (!fua) return device.write(offsetBytes, data, NO_OPTIONS);
  if (device.capabilities.fua) return device.write(offsetBytes, data, FUA_OPTIONS);
  await device.write(offsetBytes, data, NO_OPTIONS);
  await device.flush();
}

/** Read `block` from main into `target` (a block buffer) with up to `attempts` tries; failures before success, or -1. */
export async function readMainBlock(core: RemapCore, block: number, target: Uint8Array, attempts: number) {
  let failures = 0;
  for (let a = 0; a < attempts; a++) {
    if (a > 0) core.count("retries.read");
    try {
      await core.main.read(block * core.blockSize, target.subarray(0, core.blockBytes(block)));
      return failures;
    } catch (err) {
      if (!(err instanceof MediumError)) throw err;
      core.count("errors.read");
      failures++;
    }
  }
  return -1;
}

/**
 * Read `target.length` bytes at `withinBytes` of remapped `block` (in `slot`); lost sectors fail.
 * A failing spare read is retried with backoff until `deadline` (core.clock ms; default: one budget).
 */
export async function readRemapped(
  core: RemapCore,
  block: number,
  slot: number,
  withinBytes: number,
  target: Uint8Array,
  deadline = core.clock.now() + core.policy.readRetryBudgetMs,
): Promise<void> {
  const mask = core.lost.get(block);
  if (mask && anyLostIn(mask, withinBytes, target.length)) {
    throw new MediumError(
      core.name,
      "read",
      block * core.blockSize + withinBytes,
      target.length,
      `${core.name}: block ${block} has lost sectors in the requested range (rewrite them to recover)`,
    );
  }
  const mirror = core.mirrors.size > 0 ? core.mirrors.get(block) : -1;
  if (mirror >= 0) return readMirrored(core, block, slot, mirror, withinBytes, target, deadline);
  return readSlot(core, slot, withinBytes, target, deadline);
}

/**
 * Read a mirrored block: the copy on a healthy spare first (one try), then the other copy with the
 * usual retries; when the second copy served the read, the first is repaired in the background.
 */
async function readMirrored(
  core: RemapCore,
  block: number,
  slot: number,
  mirror: number,
  withinBytes: number,
  target: Uint8Array,
  deadline: number,
): Promise<void> {
  const primaryFirst =
    core.spareHealthy(core.pool.spareIndexOf(slot)) || !core.spareHealthy(core.pool.spareIndexOf(mirror));
  const [first, second] = primaryFirst ? [slot, mirror] : [mirror, slot];
  try {
    return await core.spareOf(first).read(core.pool.offsetOf(first) + withinBytes, target);
  } catch (err) {
    if (!(err instanceof MediumError)) throw err;
    core.count("errors.spare");
  }
  await readSlot(core, second, withinBytes, target, deadline);
  core.count("mirror.readFallbacks");
  // A missing spare cannot be written: its copies come back with a rebuild, not a repair.
  if (core.spareOf(first) instanceof MissingDevice || core.readOnlyReason !== undefined) return;
  core.runBackground("mirror repair", () =>
    core.guard.withLock(block, () => repairCopyLocked(core, block, first)),
  );
}

/** Read from `slot`, retrying a failing spare read with backoff until `deadline`. */
async function readSlot(
  core: RemapCore,
  slot: number,
  withinBytes: number,
  target: Uint8Array,
  deadline: number,
): Promise<void> {
  for (let retry = 1; ; retry++) {
    try {
      return await core.spareOf(slot).read(core.pool.offsetOf(slot) + withinBytes, target);
    } catch (err) {
      if (!(err instanceof MediumError)) throw err;
      core.count("errors.spare");
      if (!(await spareBackoff(core, retry, deadline))) throw err;
      core.count("retries.spare");
    }
  }
}

/** Backoff before spare retry `retry`; false once the budget is spent (after the least retries). */
async function spareBackoff(core: RemapCore, retry: number, deadline: number): Promise<boolean> {
  const remaining = deadline - core.clock.now();
  if (remaining <= 0) return retry <= core.policy.readRetries;
  const delay = backoffDelayMs(core.clock, core.policy.retryFirstDelayMs, retry, remaining);
  if (delay > 0) await core.clock.sleep(delay);
  return true;
}

/** Persistently mark `block` pending (`byReadError`: because main failed to read it). */
export async function markPendingLocked(core: RemapCore, block: number, byReadError = false): Promise<void> {
  await core.commit([{ type: "pending", block }], () => {
    core.pending.set(block, 0);
    // Only marks made because main failed a read may be cleared by reading the data back later;
    // an operator's mark (or an imported bad-block list) stays until the block is written.
    if (byReadError) core.readBackPending.add(block);
    core.count("pending.marked");
  });
  core.emit("onPending", { block });
}

/**
 * Move `block` to a fresh spare slot holding `full` (the whole block): spare write, spare flush,
 * durable remap record (plus lost / clear-pending records), then the table. Returns the slot.
 */
export async function moveToSpareLocked(
  core: RemapCore,
  block: number,
  full: Uint8Array,
  lostMask: Uint8Array | undefined,
  reason: RemapReason,
  detail = "",
): Promise<number> {
  try {
    return await moveToSpareUnreported(core, block, full, lostMask, reason, detail);
  } catch (err) {
    core.count("remaps.failed");
    core.emit("onRemapFailed", { block, reason, error: err });
    throw err;
  }
}

async function moveToSpareUnreported(
  core: RemapCore,
  block: number,
  full: Uint8Array,
  lostMask: Uint8Array | undefined,
  reason: RemapReason,
  detail: string,
): Promise<number> {
  let slot = -1;
  for (let attempt = 1; ; attempt++) {
    try {
      slot = allocateSlot(core);
    } catch (err) {
      core.count("errors.noSpace");
      core.afterChange();
      throw err;
    }
    const spare = core.spareOf(slot);
    try {
      await spare.write(core.pool.offsetOf(slot), full, NO_OPTIONS);
      await spare.flush();
      break;
    } catch (err) {
      core.count("errors.spare");
      core.quarantinedSlots++;
      core.pool.noteQuarantined(slot);
      // Later slots come from the other spares while they have room (a missing or dying spare).
      core.failingSpares.add(core.pool.spareIndexOf(slot));
      if (attempt >= SPARE_WRITE_ATTEMPTS || !(err instanceof MediumError)) throw err;
    }
  }
  // Mirrored sets: the second copy, on another spare, is flushed before the remap commits too.
  const mirror =
    core.mirrorCopies === 2 ? await writeNewCopy(core, full, [slot]).catch(releaseOn(core, slot)) : -1;
  const oldMirror = core.mirrors.size > 0 ? core.mirrors.get(block) : -1;
  const lost = lostMask && !isEmptyMask(lostMask) ? lostMask : undefined;
  const wasPending = core.pending.has(block);
  const records: Parameters<RemapCore["commit"]>[0] = [{ type: "remap", block, slot, reason }];
  if (mirror >= 0) records.push({ type: "mirror", block, slot: mirror });
  else if (oldMirror >= 0) records.push({ type: "mirror", block, slot: NO_MIRROR });
  if (lost) records.push({ type: "lost", block, sectorMask: lost });
  if (wasPending) records.push({ type: "clear-pending", block });
  try {
    await core.commit(records, () => {
      core.table.set(block, slot);
      if (mirror >= 0) core.mirrors.set(block, mirror);
      else core.mirrors.delete(block);
      // The old second copy missed this block's newest bytes: kept allocated (quarantined).
      if (oldMirror >= 0) {
        core.quarantinedSlots++;
        core.pool.noteQuarantined(oldMirror);
      }
      if (lost) core.lost.set(block, lost);
      if (wasPending) core.pending.delete(block);
      core.readBackPending.delete(block);
      core.count(`remaps.${reason}`);
      const readErrors = core.errorHistory.get(block)?.failures ?? 0;
      core.remapNotes.set(block, { reason, detail, readErrors });
      core.errorHistory.forget(block);
    });
  } catch (err) {
    core.pool.release(slot);
    if (mirror >= 0) core.pool.release(mirror);
    throw err;
  }
  core.emit("onRemap", { block, slot, reason, lostSectors: lost ? countLost(lost) : 0 });
  if (core.mirrorCopies === 2 && mirror < 0)
    singleCopy(core, block, slot, "no healthy spare with room for a second copy");
  if (wasPending) core.emit("onPendingCleared", { block, reason: "rewritten" });
  return slot;
}

/** A rejection handler that frees `slot` and rethrows. */
function releaseOn(core: RemapCore, slot: number): (err: unknown) => never {
  return (err: unknown) => {
    core.pool.release(slot);
    throw err;
  };
}

/** A free slot, preferably on a spare that has not failed a write this session. */
function allocateSlot(core: RemapCore): number {
  if (core.failingSpares.size === 0 || core.failingSpares.size >= core.spares.length)
    return core.pool.allocate();
  try {
    return core.pool.allocate(core.failingSpares);
  } catch {
    return core.pool.allocate();
  }
}

/**
 * Remap `block` so that bytes [withinBytes, +portion.length) hold `portion`; the rest comes from main
 * (sectors that cannot be read, or all of them when the block is pending, become lost).
 */
export async function remapWithDataLocked(
  core: RemapCore,
  block: number,
  withinBytes: number,
  portion: Uint8Array,
  reason: RemapReason,
  detail = "",
): Promise<void> {
  const bs = core.blockSize;
  const full = new Uint8Array(bs);
  let lost: Uint8Array | undefined;
  if (portion.length !== core.blockBytes(block)) {
    if (core.pending.has(block)) lost = unknownSectors(core, block, withinBytes, portion.length);
    else if (!(await readAround(core, block, full, withinBytes, portion.length))) {
      lost = await readSectorsBestEffort(core, block, full, withinBytes, portion.length);
    }
  }
  full.set(portion, withinBytes);
  await moveToSpareLocked(core, block, full, lost, reason, detail);
}

/**
 * Read the bytes of `block` before and after [withinBytes, +lengthBytes) into `full`, with retries.
 * The new bytes are not read: a fenced (abandoned) write to them need not be waited for.
 */
async function readAround(
  core: RemapCore,
  block: number,
  full: Uint8Array,
  withinBytes: number,
  lengthBytes: number,
): Promise<boolean> {
  const base = block * core.blockSize;
  const tail = withinBytes + lengthBytes;
  const parts: [number, number][] = [];
  if (withinBytes > 0) parts.push([0, withinBytes]);
  if (tail < core.blockBytes(block)) parts.push([tail, core.blockBytes(block)]);
  for (const [from, to] of parts) {
    let ok = false;
    for (let a = 0; a <= core.policy.readRetries && !ok; a++) {
      if (a > 0) core.count("retries.read");
      try {
        await core.main.read(base + from, full.subarray(from, to));
        ok = true;
      } catch (err) {
        if (err instanceof FencedRangeError) return false;
        if (!(err instanceof MediumError)) throw err;
        core.count("errors.read");
      }
    }
    if (!ok) return false;
  }
  return true;
}

/** Read each sector of `block` not fully covered by the write, once; unreadable ones are returned as lost. */
async function readSectorsBestEffort(
  core: RemapCore,
  block: number,
  full: Uint8Array,
  withinBytes: number,
  lengthBytes: number,
): Promise<Uint8Array> {
  const lost = emptyMask(core.blockSize);
  const uncovered = unknownSectors(core, block, withinBytes, lengthBytes);
  full.fill(0);
  for (let s = 0; s < core.blockSize / SECTOR_BYTES; s++) {
    if ((uncovered[s >>> 3]! & (1 << (s & 7))) === 0) continue;
    const at = s * SECTOR_BYTES;
    try {
      await core.main.read(block * core.blockSize + at, full.subarray(at, at + SECTOR_BYTES));
    } catch (err) {
      // A sector fenced behind an abandoned write has no known old content either.
      if (!(err instanceof MediumError || err instanceof FencedRangeError)) throw err;
      if (err instanceof MediumError) core.count("errors.read");
      setLost(lost, s, true);
    }
  }
  return lost;
}

/** Sectors of `block` inside the device that a write of [withinBytes, +lengthBytes) does not fully cover. */
function unknownSectors(
  core: RemapCore,
  block: number,
  withinBytes: number,
  lengthBytes: number,
): Uint8Array {
  const mask = uncoveredMask(core.blockSize, withinBytes, lengthBytes);
  const inside = core.blockBytes(block);
  return inside === core.blockSize ? mask : clearCovered(mask, inside, core.blockSize - inside);
}

/** Write into remapped `block`; fully rewritten lost sectors are cleared (after the data is flushed). */
export async function writeRemappedLocked(
  core: RemapCore,
  block: number,
  slot: number,
  withinBytes: number,
  portion: Uint8Array,
  fua: boolean,
): Promise<void> {
  const mirror = core.mirrors.size > 0 ? core.mirrors.get(block) : -1;
  if (mirror >= 0) return writeMirroredLocked(core, block, slot, mirror, withinBytes, portion, fua);
  const spare = core.spareOf(slot);
  try {
    await writeLower(spare, core.pool.offsetOf(slot) + withinBytes, portion, fua);
  } catch (err) {
    if (!(err instanceof MediumError)) throw err;
    core.count("errors.spare");
    core.failingSpares.add(core.pool.spareIndexOf(slot));
    return relocateLocked(core, block, slot, withinBytes, portion);
  }
  return clearLostLocked(core, block, withinBytes, portion.length, fua);
}

/**
 * Write into both copies of mirrored `block` at once. A copy whose write failed holds stale bytes:
 * it is dropped (and re-made elsewhere when a spare has room) before the write is acknowledged;
 * when both fail the block moves as an unmirrored one would.
 */
async function writeMirroredLocked(
  core: RemapCore,
  block: number,
  slot: number,
  mirror: number,
  withinBytes: number,
  portion: Uint8Array,
  fua: boolean,
): Promise<void> {
  const copies = [slot, mirror];
  const results = await Promise.allSettled(
    copies.map((s) => writeLower(core.spareOf(s), core.pool.offsetOf(s) + withinBytes, portion, fua)),
  );
  const failed: number[] = [];
  results.forEach((r, i) => {
    if (r.status === "fulfilled") return;
    if (!(r.reason instanceof MediumError)) throw r.reason;
    failed.push(copies[i]!);
  });
  if (failed.length === 2) {
    core.count("errors.spare", 2);
    for (const s of failed) core.failingSpares.add(core.pool.spareIndexOf(s));
    return relocateLocked(core, block, slot, withinBytes, portion);
  }
  if (failed.length === 1) {
    quarantineSlot(core, failed[0]!);
    const outcome = await ensureTwoCopiesLocked(core, block, { stale: failed[0]! });
    if (outcome === "unreadable") return relocateLocked(core, block, slot, withinBytes, portion);
  }
  return clearLostLocked(core, block, withinBytes, portion.length, fua);
}

/** After a write of [withinBytes, +lengthBytes) into remapped `block`: clear the lost sectors it covered. */
async function clearLostLocked(
  core: RemapCore,
  block: number,
  withinBytes: number,
  lengthBytes: number,
  fua: boolean,
): Promise<void> {
  const mask = core.lost.get(block);
  if (!mask) return;
  const next = clearCovered(mask, withinBytes, lengthBytes);
  if (countLost(next) === countLost(mask)) return;
  // The lost mark may only go once the new data is durable, or a crash would expose stale sectors.
  if (!fua) {
    const slots = [core.table.get(block), core.mirrors.size > 0 ? core.mirrors.get(block) : -1];
    for (const s of slots) if (s >= 0) await core.spareOf(s).flush();
  }
  await core.commit([{ type: "lost", block, sectorMask: next }], () => {
    if (isEmptyMask(next)) core.lost.delete(block);
    else core.lost.set(block, next);
  });
}

/**
 * The slot of remapped `block` failed a write (its spare is dying or missing): move the block to a
 * new slot on another spare with the new bytes; old bytes that cannot be read there become lost.
 * The old slot stays allocated (quarantined), never reused this session.
 */
async function relocateLocked(
  core: RemapCore,
  block: number,
  oldSlot: number,
  withinBytes: number,
  portion: Uint8Array,
): Promise<void> {
  const full = new Uint8Array(core.blockSize);
  const old = core.lost.get(block);
  let lost: Uint8Array | undefined = old ? Uint8Array.from(old) : undefined;
  if (portion.length !== core.blockBytes(block)) {
    try {
      await core.spareOf(oldSlot).read(core.pool.offsetOf(oldSlot), full.subarray(0, core.blockBytes(block)));
    } catch (err) {
      if (!(err instanceof MediumError)) throw err;
      core.count("errors.spare");
      lost = unknownSectors(core, block, withinBytes, portion.length);
    }
  }
  full.set(portion, withinBytes);
  if (lost) lost = clearCovered(lost, withinBytes, portion.length);
  core.quarantinedSlots++;
  core.pool.noteQuarantined(oldSlot);
  await moveToSpareLocked(core, block, full, lost, "write-error", `its slot ${oldSlot} failed a write`);
}

/**
 * Write `portion` at `withinBytes` of `block` under its lock: to the spare if remapped, remap if
 * pending, else main with retries and a remap when they all fail. `priorFailures` counts failed
 * attempts already made on exactly this write.
 */
export function writeBlockGuarded(
  core: RemapCore,
  block: number,
  withinBytes: number,
  portion: Uint8Array,
  fua: boolean,
  priorFailures: number,
  timedOut?: WriteTimeoutError,
): Promise<void> {
  return core.guard.withLock(block, async () => {
    const slot = core.table.get(block);
    if (slot >= 0) return writeRemappedLocked(core, block, slot, withinBytes, portion, fua);
    if (core.pending.has(block)) return remapWithDataLocked(core, block, withinBytes, portion, "read-error");
    // A write that timed out is not retried on main: the block moves away from its fenced range.
    let slow = timedOut;
    const attempts = slow ? 0 : 1 + core.policy.writeRetries - Math.min(priorFailures, 1);
    for (let a = 0; a < attempts; a++) {
      if (a > 0 || priorFailures > 0) core.count("retries.write");
      try {
        await writeLower(core.main, block * core.blockSize + withinBytes, portion, fua);
        return;
      } catch (err) {
        if (!(err instanceof MediumError)) throw err;
        core.count("errors.write");
        if (err instanceof WriteTimeoutError) {
          slow = err;
          break;
        }
      }
    }
    const detail = slow ? `write timed out after ${slow.timeoutMs} ms (fenced)` : "write failed on main";
    await remapWithDataLocked(core, block, withinBytes, portion, "write-error", detail);
  });
}

/** Move a healthy block to a spare (data read from main); unreadable now -> left on main. */
export function migrateBlock(
  core: RemapCore,
  block: number,
  reason: RemapReason,
  detail = "",
): Promise<void> {
  return core.guard.withLock(block, async () => {
    if (core.table.has(block) || core.pending.has(block) || core.readOnlyReason !== undefined) return;
    const full = new Uint8Array(core.blockSize);
    let failures: number;
    try {
      failures = await readMainBlock(core, block, full, 1 + core.policy.readRetries);
    } catch (err) {
      if (!(err instanceof FencedRangeError)) throw err;
      failures = -1;
    }
    if (failures < 0) {
      // The block read fine a moment ago: main is having an outage. A migration is optional, so
      // it is given up (the block stays on main); the next read of it decides again.
      core.count("migrations.skipped");
      return;
    }
    await moveToSpareLocked(core, block, full, undefined, reason, detail);
  });
}

/**
 * A block main cannot read whole: copy its readable sectors to a spare and mark the rest lost, so
 * known data stays readable; with no readable sector (or no free slot) mark it pending instead.
 */
export async function salvageLocked(core: RemapCore, block: number): Promise<void> {
  const full = new Uint8Array(core.blockSize);
  const lost = await readSectorsBestEffort(core, block, full, 0, 0);
  if (countLost(lost) === core.blockBytes(block) / SECTOR_BYTES || core.pool.freeSlots === 0) {
    await markPendingLocked(core, block, true);
    return;
  }
  const detail = `main could not read ${countLost(lost)} of its sectors (lost)`;
  await moveToSpareLocked(core, block, full, lost, "read-error", detail);
}
