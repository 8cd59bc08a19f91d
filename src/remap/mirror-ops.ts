// Mirrored sets (mirror = 2): every remapped block has a second copy in a slot on another spare.
// Writing a new copy, repairing a copy from the other one and re-creating missing copies (rebuild,
// drain). Functions ending in `Locked` must run inside core.guard.withLock(block).
import { MediumError, NoSpaceError } from "../block/errors.js";
import { NO_MIRROR, type JournalRecord } from "../metadata/metadata-store.js";
import type { RemapCore } from "./remap-core.js";

/** Slots tried for one new copy before the block keeps fewer copies (a failing write quarantines its slot). */
const COPY_WRITE_ATTEMPTS = 3;

/** What ensureTwoCopiesLocked did. */
export type CopiesOutcome = "ok" | "rebuilt" | "single" | "unreadable" | "not-remapped";

/** Options of ensureTwoCopiesLocked. */
export interface EnsureCopiesOptions {
  /** A spare being emptied (drain): no copy may stay there or be made there. */
  readonly leaveSpare?: number;
  /** A slot whose content is stale (a write to it failed): it is never kept. */
  readonly stale?: number;
  /** New copies go to this spare only (`spare rebuild TARGET DEV`); none fits elsewhere. */
  readonly onto?: number;
}

/** Quarantine `slot` after its spare failed a write: kept allocated, never reused this session. */
export function quarantineSlot(core: RemapCore, slot: number): void {
  core.count("errors.spare");
  core.quarantinedSlots++;
  core.pool.noteQuarantined(slot);
  core.failingSpares.add(core.pool.spareIndexOf(slot));
}

/**
 * Spares a new copy must not go to: unhealthy ones, those holding `keepSlots`, `extra`, and with
 * `only` every spare but that one.
 */
function avoidFor(
  core: RemapCore,
  keepSlots: readonly number[],
  extra: number | undefined,
  only: number | undefined,
): Set<number> {
  const avoid = new Set<number>();
  for (let i = 0; i < core.spares.length; i++) if (!core.spareHealthy(i) || (only ?? i) !== i) avoid.add(i);
  for (const s of keepSlots) avoid.add(core.pool.spareIndexOf(s));
  if (extra !== undefined) avoid.add(extra);
  return avoid;
}

/**
 * Write `full` (a whole block) to a fresh slot on a healthy spare that holds none of `keepSlots`
 * (nor is `avoidSpare`; with `onlySpare`, on that spare), then flush it. Returns the slot, or -1
 * when no such spare has room or every attempt failed (failed slots are quarantined).
 */
export async function writeNewCopy(
  core: RemapCore,
  full: Uint8Array,
  keepSlots: readonly number[],
  avoidSpare?: number,
  onlySpare?: number,
): Promise<number> {
  for (let attempt = 1; attempt <= COPY_WRITE_ATTEMPTS; attempt++) {
    let slot: number;
    try {
      slot = core.pool.allocate(avoidFor(core, keepSlots, avoidSpare, onlySpare));
    } catch (err) {
      if (err instanceof NoSpaceError) return -1;
      throw err;
    }
    try {
      const spare = core.spareOf(slot);
      await spare.write(core.pool.offsetOf(slot), full, {});
      await spare.flush();
      return slot;
    } catch (err) {
      if (!(err instanceof MediumError)) {
        core.pool.release(slot);
        throw err;
      }
      quarantineSlot(core, slot);
    }
  }
  return -1;
}

/** The whole content of `slot`, or undefined when its spare fails the read. */
async function readCopy(core: RemapCore, slot: number): Promise<Uint8Array | undefined> {
  const full = new Uint8Array(core.blockSize);
  try {
    await core.spareOf(slot).read(core.pool.offsetOf(slot), full);
    return full;
  } catch (err) {
    if (!(err instanceof MediumError)) throw err;
    core.count("errors.spare");
    return undefined;
  }
}

/**
 * Give remapped `block` two copies on two different healthy spares (neither on `leaveSpare`): read
 * a good copy, write and flush each new copy, then commit the table change in one batch (remap +
 * mirror records); replaced slots are freed after the commit. With no room for a second copy the
 * block keeps one ("single"); an old copy on an unhealthy spare stays referenced unless it is
 * stale or on `leaveSpare`, since it may come back.
 */
export async function ensureTwoCopiesLocked(
  core: RemapCore,
  block: number,
  options: EnsureCopiesOptions = {},
): Promise<CopiesOutcome> {
  const slot = core.table.get(block);
  if (slot < 0) return "not-remapped";
  const mirror = core.mirrors.get(block);
  const spareOf = (s: number) => core.pool.spareIndexOf(s);
  const good = (s: number) =>
    s >= 0 && s !== options.stale && core.spareHealthy(spareOf(s)) && spareOf(s) !== options.leaveSpare;
  const kept = [slot, mirror].filter(good);
  if (kept.length === 2 && spareOf(slot) !== spareOf(mirror)) return "ok";
  if (kept.length === 2) kept.pop();
  // Read a copy that is known good first; one on an unhealthy spare may still read (drain, stale never).
  const sources = [...kept, ...[slot, mirror].filter((s) => s >= 0 && !good(s) && s !== options.stale)];
  let data: Uint8Array | undefined;
  for (const s of sources) {
    data = await readCopy(core, s);
    if (data) break;
  }
  if (!data) return "unreadable";
  const made: number[] = [];
  while (kept.length + made.length < 2) {
    const next = await writeNewCopy(core, data, [...kept, ...made], options.leaveSpare, options.onto);
    if (next < 0) break;
    made.push(next);
  }
  const copies = [...kept, ...made];
  if (copies.length === 0) return "single";
  const primary = copies[0]!;
  let second = copies[1] ?? -1;
  if (second < 0) {
    const old = [slot, mirror].find(
      (s) => s >= 0 && s !== primary && s !== options.stale && spareOf(s) !== options.leaveSpare,
    );
    if (old !== undefined) second = old;
  }
  const records: JournalRecord[] = [];
  if (primary !== slot) records.push({ type: "remap", block, slot: primary, reason: "manual" });
  if (second !== mirror) records.push({ type: "mirror", block, slot: second < 0 ? NO_MIRROR : second });
  if (records.length === 0) return copies.length >= 2 ? "ok" : "single";
  try {
    await core.commit(records, () => {
      core.table.set(block, primary);
      if (second >= 0) core.mirrors.set(block, second);
      else core.mirrors.delete(block);
      for (const old of [slot, mirror])
        if (old >= 0 && old !== primary && old !== second) core.pool.release(old);
    });
  } catch (err) {
    for (const s of made) core.pool.release(s);
    throw err;
  }
  for (const s of made) {
    core.count("mirror.rebuilt");
    core.emit("onMirror", { block, action: "rebuilt", slot: s, detail: "copy written to a new slot" });
  }
  if (copies.length < 2)
    singleCopy(
      core,
      block,
      primary,
      options.onto === undefined
        ? "no healthy spare with room for a second copy"
        : `spare ${options.onto} has no room for a second copy, or holds the only one`,
    );
  return copies.length >= 2 ? "rebuilt" : "single";
}

/** Report that `block` keeps one copy (in `slot`) for now. */
export function singleCopy(core: RemapCore, block: number, slot: number, detail: string): void {
  core.count("mirror.singleCopy");
  core.emit("onMirror", { block, action: "single-copy", slot, detail });
}

/**
 * A read of copy `badSlot` of `block` failed while the other copy read fine: rewrite it from the
 * other copy (write + flush). When that write fails too, the copy moves to a new slot elsewhere.
 */
export async function repairCopyLocked(core: RemapCore, block: number, badSlot: number): Promise<void> {
  if (core.readOnlyReason !== undefined) return;
  const slot = core.table.get(block);
  const mirror = core.mirrors.get(block);
  if (slot < 0 || (badSlot !== slot && badSlot !== mirror)) return;
  const other = badSlot === slot ? mirror : slot;
  if (other < 0) return;
  const data = await readCopy(core, other);
  if (!data) return;
  try {
    const spare = core.spareOf(badSlot);
    await spare.write(core.pool.offsetOf(badSlot), data, {});
    await spare.flush();
  } catch (err) {
    if (!(err instanceof MediumError)) throw err;
    quarantineSlot(core, badSlot);
    await ensureTwoCopiesLocked(core, block, { stale: badSlot });
    return;
  }
  core.count("mirror.repaired");
  core.emit("onMirror", { block, action: "repaired", slot: badSlot, detail: "unreadable copy rewritten" });
}

/** Every slot holding a copy of `block` (none when it is not remapped). */
export function copiesOf(core: RemapCore, block: number): number[] {
  const slot = core.table.get(block);
  if (slot < 0) return [];
  const mirror = core.mirrors.size > 0 ? core.mirrors.get(block) : -1;
  return mirror >= 0 ? [slot, mirror] : [slot];
}
