// Membership changes of a set, as metadata operations: adding a spare. Each step is ordered so that
// a crash at any write or flush leaves the old membership or the new one, never half of it
// (docs/FORMAT.md "Membership changes").
import { randomUUID } from "node:crypto";
import type { BlockDevice } from "../block/block-device.js";
import type { OpenedSet, SetIdentity, SpareIdentity } from "./metadata-store.js";
import { encodeBody, encodeSlot } from "./checkpoint-codec.js";
import {
  CHECKPOINT_HEADER_BYTES,
  ENDS,
  MAX_SPARES,
  SUPERBLOCK_BYTES,
  endGeometry,
  slotCountFor,
  tailBytes,
  uuidToBytes,
} from "./layout.js";
import { scanSuperblocksAt } from "./scan-copy.js";
import {
  NO_RELOCATIONS,
  type Relocations,
  type Superblock,
  encodeSuperblock,
  tombstoneOf,
} from "./superblock.js";
import { SpareStore, copyHandle } from "./spare-store.js";
import { encodeSetRecord } from "./main-identity.js";
import { openSet } from "./open-set.js";
import { ForeignSpareError, SetOptionError, SpareInUseError, SpareTooSmallError } from "./errors.js";

/** Options of addSpare. */
export interface AddSpareOptions {
  /** Overwrite a device that carries dmremap metadata of another set. */
  readonly force?: boolean;
}

/** Refuse a device of another set (unless force); a device left by an interrupted add is reused. */
async function refuseForeign(device: BlockDevice, identity: SetIdentity, force: boolean): Promise<void> {
  for (const end of ENDS) {
    const scan = await scanSuperblocksAt(device, end);
    for (const c of scan?.copies ?? []) {
      if (!c.ok) continue;
      const found = c.sb.identity;
      const d = device.describe();
      if (found.uuid === identity.uuid) {
        if (
          c.sb.spareIndex < identity.spares.length &&
          identity.spares[c.sb.spareIndex]!.uuid === found.spares[c.sb.spareIndex]?.uuid
        )
          throw new SpareInUseError(d, `${d} is already spare ${c.sb.spareIndex} of set "${identity.name}"`);
        continue;
      }
      if (!force)
        throw new ForeignSpareError(
          d,
          identity.uuid,
          found.uuid,
          `${d} holds dmremap metadata of set "${found.name}" (${found.uuid}); use force to overwrite it`,
        );
    }
  }
}

/** The membership after adding `device`: one more spare, its slots numbered after the others'. */
export function extendedIdentity(
  identity: SetIdentity,
  layoutDevice: BlockDevice,
  layout: Superblock["layout"],
): SetIdentity {
  const d = layoutDevice.describe();
  if (identity.spares.length >= MAX_SPARES)
    throw new SetOptionError(
      `set "${identity.name}" already has ${identity.spares.length} spares, the most a set holds`,
    );
  const dataOffsetBytes = identity.spares[0]!.dataOffsetBytes;
  const slotCount = slotCountFor(layout, layoutDevice.sizeBytes, dataOffsetBytes);
  if (slotCount < 1) {
    throw new SpareTooSmallError(
      d,
      `spare ${d} (${layoutDevice.sizeBytes} bytes) is too small: set "${identity.name}" needs ${dataOffsetBytes} bytes at the head and ${tailBytes(layout)} at the tail, plus at least one ${identity.blockSize}-byte slot`,
    );
  }
  const last = identity.spares[identity.spares.length - 1]!;
  const firstSlot = last.firstSlot + last.slotCount;
  if (firstSlot + slotCount > 0xffffffff)
    throw new SetOptionError(`adding ${d} would give set "${identity.name}" more than 2^32 slots`);
  const spare: SpareIdentity = {
    uuid: randomUUID(),
    index: identity.spares.length,
    sizeBytes: layoutDevice.sizeBytes,
    dataOffsetBytes,
    slotCount,
    firstSlot,
  };
  return { ...identity, spares: [...identity.spares, spare] };
}

/** Relocations recorded in `device`'s superblocks (either end), so a rewrite keeps them. */
async function relocationsOf(device: BlockDevice, sizeBytes: number): Promise<Relocations> {
  for (const end of ENDS) {
    const scan = await scanSuperblocksAt(device, end, sizeBytes);
    for (const c of scan?.copies ?? []) if (c.ok) return c.sb.relocations;
  }
  return NO_RELOCATIONS;
}

async function writeSuperblockPair(device: BlockDevice, at: number, sb: Uint8Array): Promise<void> {
  const both = new Uint8Array(2 * SUPERBLOCK_BYTES);
  both.set(sb);
  both.set(sb, SUPERBLOCK_BYTES);
  await device.write(at, both);
}

/**
 * Add `device` as a new spare of the opened set. `opened` must be freshly opened read-write with
 * every member present (`members` in set index order) and nothing appended since; it is closed,
 * and the set is returned reopened with the new member. Steps, each followed by a flush:
 * 1. a checkpoint of the table on every member (generation g, journal empty);
 * 2. the same table as a generation g checkpoint at both ends of the new device;
 * 3. the new device's superblocks (new membership);
 * 4. each member's superblocks, one member at a time (an open takes the larger membership when
 *    the superblocks of a set differ only by spares added at the end);
 * 5. reopen with every device and checkpoint (records the new device's spec).
 * A crash before 3 leaves the old membership (the device is not a member; adding it again with
 * force resumes); after 3 the device is a member whenever it is given, and its slots are empty.
 */
export async function addSpare(
  opened: OpenedSet,
  members: readonly BlockDevice[],
  device: BlockDevice,
  options: AddSpareOptions = {},
): Promise<OpenedSet> {
  const store = opened.store;
  if (!(store instanceof SpareStore))
    throw new SetOptionError("adding a spare needs a set opened from its spares");
  const { identity, layout } = store;
  const d = device.describe();
  const live = liveIndexes(identity);
  if ((opened.missingSpares ?? []).length > 0 || members.length !== live.length)
    throw new SetOptionError(
      `set "${identity.name}" is running without ${live.length - members.length || (opened.missingSpares ?? []).length} of its spares; give every spare to add one`,
    );
  if (opened.readOnlyReason)
    throw new SetOptionError(`set "${identity.name}" is read-only: ${opened.readOnlyReason}`);
  if (members.includes(device))
    throw new SpareInUseError(d, `${d} is already a spare of set "${identity.name}"`);
  if (layout.version !== 2)
    throw new SetOptionError(
      `set "${identity.name}" is format version ${layout.version}; upgrade it first (check --repair)`,
    );
  await refuseForeign(device, identity, options.force ?? false);
  const next = extendedIdentity(identity, device, layout);
  const index = identity.spares.length;

  await store.checkpoint(opened.snapshot);
  const generation = store.generation;
  await store.close();

  const record = {
    ...(opened.mainIdentity ? { main: opened.mainIdentity } : {}),
    spares: [
      ...identity.spares.map((s) => (s.removed ? null : members[live.indexOf(s.index)]!.describe())),
      d,
    ],
  };
  const body = encodeBody(opened.snapshot, layout, encodeSetRecord(record));
  const setUuid = uuidToBytes(identity.uuid);
  const zero = new Uint8Array(CHECKPOINT_HEADER_BYTES);
  for (const end of ENDS) {
    const g = endGeometry(layout, end, device.sizeBytes);
    await device.write(
      g.slot,
      encodeSlot(body, setUuid, generation, { spareIndex: index, end, relocations: NO_RELOCATIONS }, 0),
    );
    await device.write(g.journal, zero);
    await device.write(g.reloc, zero);
  }
  await device.flush();
  const own = encodeSuperblock({ identity: next, layout, spareIndex: index, relocations: NO_RELOCATIONS });
  for (const end of ENDS)
    await writeSuperblockPair(device, endGeometry(layout, end, device.sizeBytes).superblocks[0], own);
  await device.flush();

  for (const [position, member] of members.entries()) {
    const i = live[position]!;
    const sizeBytes = identity.spares[i]!.sizeBytes;
    const sb = encodeSuperblock({
      identity: next,
      layout,
      spareIndex: i,
      relocations: await relocationsOf(member, sizeBytes),
    });
    for (const end of ENDS) {
      await writeSuperblockPair(member, endGeometry(layout, end, sizeBytes).superblocks[0], sb);
      await member.flush();
    }
  }

  const reopened = await openSet({ spares: [...members, device] });
  await reopened.store.checkpoint(reopened.snapshot);
  return reopened;
}

/**
 * Add `device` to a set that is being served, through its running store: the same steps as
 * addSpare, run between two commits (SpareStore.exclusive), then the store takes the new copy and
 * accepts its slots. The caller then hands the slots to the allocator (RemapCore.addSpare). A
 * degraded set (a spare missing) may add one too: that is how a lost spare is replaced.
 */
export async function addSpareOnline(
  store: SpareStore,
  device: BlockDevice,
  options: AddSpareOptions = {},
): Promise<SpareIdentity> {
  const d = device.describe();
  const { layout } = store;
  if (layout.version !== 2)
    throw new SetOptionError(
      `set "${store.identity.name}" is format version ${layout.version}; upgrade it first`,
    );
  if (store.writeFailure)
    throw new SetOptionError(`set "${store.identity.name}" is read-only: ${store.writeFailure.message}`);
  return store.exclusive(async (x) => {
    const identity = store.identity;
    // A missing member keeps its older superblocks: an open takes the larger membership, and the
    // newer generation of the others, when it comes back.
    if (x.members().some((c) => c.device === device))
      throw new SpareInUseError(d, `${d} is already a spare of set "${identity.name}"`);
    await refuseForeign(device, identity, options.force ?? false);
    const next = extendedIdentity(identity, device, layout);
    const index = identity.spares.length;
    await x.checkpoint();
    const generation = x.generation();
    const spec = d;
    const record = { ...x.record(), spares: [...x.record().spares, spec] };
    const body = encodeBody(x.snapshot(), layout, encodeSetRecord(record));
    const setUuid = uuidToBytes(identity.uuid);
    const zero = new Uint8Array(CHECKPOINT_HEADER_BYTES);
    for (const end of ENDS) {
      const g = endGeometry(layout, end, device.sizeBytes);
      const place = { spareIndex: index, end, relocations: NO_RELOCATIONS };
      await device.write(g.slot, encodeSlot(body, setUuid, generation, place, 0));
      await device.write(g.journal, zero);
      await device.write(g.reloc, zero);
    }
    await device.flush();
    const own = encodeSuperblock({ identity: next, layout, spareIndex: index, relocations: NO_RELOCATIONS });
    for (const end of ENDS)
      await writeSuperblockPair(device, endGeometry(layout, end, device.sizeBytes).superblocks[0], own);
    await device.flush();
    for (const member of x.members()) {
      const sizeBytes = identity.spares[member.spareIndex]!.sizeBytes;
      const relocations = { ...member.relocations };
      const sb = encodeSuperblock({ identity: next, layout, spareIndex: member.spareIndex, relocations });
      for (const end of ENDS) {
        if (!member.ends[end].ok) continue;
        await writeSuperblockPair(member.device, endGeometry(layout, end, sizeBytes).superblocks[0], sb);
        await member.device.flush();
      }
    }
    x.adoptMember(next, copyHandle(device, index, layout, device.sizeBytes, generation), spec);
    await x.checkpoint();
    return next.spares[index]!;
  });
}

/** Slots of `snapshot` (first and, when mirrored, second copies) within `spare`'s slot range. */
function slotsHeldOn(snapshot: OpenedSet["snapshot"], spare: SpareIdentity): number {
  const end = spare.firstSlot + spare.slotCount;
  const count = (slots: Uint32Array) => slots.filter((slot) => slot >= spare.firstSlot && slot < end).length;
  return count(snapshot.slots) + (snapshot.mirrors ? count(snapshot.mirrors.slots) : 0);
}

/**
 * Remove spare `index` of a served set through its running store; it must hold no remapped block
 * (refused with the count). The last spare leaves the spare table; any other one stays in it as a
 * tombstone (zero UUID, same slot range) so that no slot number changes (docs/FORMAT.md
 * "Membership changes"). Between two commits: a checkpoint, then each remaining member's
 * superblocks (the new membership), one member and one end at a time, then the removed device's
 * superblocks and checkpoint headers are zeroed so it is never taken for a member again, then a
 * checkpoint. Recovery: removing the last spare, a crash before the wipe leaves the larger (old)
 * membership; removing another one, the tombstone wins as soon as one member records it (the removed
 * device, if given, is then refused). Either way, running it again finishes it. Returns the removed
 * device. A missing spare (degraded set) that holds nothing any more (a mirrored set rebuilt its
 * copies elsewhere) is removed too: nothing to wipe, it always becomes a tombstone (even when last),
 * so the device is refused if it is ever given again; returns undefined then.
 */
export async function removeSpareOnline(store: SpareStore, index: number): Promise<BlockDevice | undefined> {
  return store.exclusive(async (x) => {
    const identity = store.identity;
    const spare = identity.spares[index];
    if (!spare || spare.removed)
      throw new SetOptionError(
        `set "${identity.name}" has no spare ${index} to remove (spares: ${liveIndexes(identity).join(", ")})`,
      );
    if (liveIndexes(identity).length === 1)
      throw new SetOptionError(`set "${identity.name}": its only spare cannot be removed`);
    const missing = x.missingIndexes().includes(index);
    if (!missing && x.missing() > 0)
      throw new SetOptionError(`set "${identity.name}" is running without ${x.missing()} of its spares`);
    const held = slotsHeldOn(x.snapshot(), spare);
    if (held > 0)
      throw new SpareInUseError(
        String(index),
        missing
          ? `spare ${index} of set "${identity.name}" is missing and still holds ${held} remapped blocks; a mirrored set: add a spare and run spare rebuild first; otherwise bring it back and drain it`
          : `spare ${index} of set "${identity.name}" still holds ${held} remapped blocks; drain it first`,
      );
    const copy = x.members().find((c) => c.spareIndex === index);
    if (!copy && !missing)
      throw new SetOptionError(`set "${identity.name}": spare ${index} has no writable metadata copy`);
    const { layout } = store;
    // A missing spare cannot be wiped: it always stays as a tombstone, which refuses it if it comes back.
    const last = index === identity.spares.length - 1 && !missing;
    const next: SetIdentity = {
      ...identity,
      spares: last
        ? identity.spares.slice(0, index)
        : identity.spares.map((s) => (s.index === index ? tombstoneOf(s) : s)),
    };
    await x.checkpoint();
    for (const member of x.members()) {
      if (member.spareIndex === index) continue;
      const sizeBytes = identity.spares[member.spareIndex]!.sizeBytes;
      const relocations = { ...member.relocations };
      const sb = encodeSuperblock({ identity: next, layout, spareIndex: member.spareIndex, relocations });
      for (const end of ENDS) {
        if (!member.ends[end].ok) continue;
        await writeSuperblockPair(member.device, endGeometry(layout, end, sizeBytes).superblocks[0], sb);
        await member.device.flush();
      }
    }
    if (copy) {
      const zero = new Uint8Array(2 * SUPERBLOCK_BYTES);
      const sector = new Uint8Array(CHECKPOINT_HEADER_BYTES);
      for (const end of ENDS) {
        const g = endGeometry(layout, end, spare.sizeBytes);
        await copy.device.write(g.superblocks[0], zero);
        await copy.device.write(g.slot, sector);
        await copy.device.write(g.reloc, sector);
      }
      await copy.device.flush();
    }
    if (last) x.dropLastMember(next);
    else x.tombstoneMember(next, index);
    await x.checkpoint();
    return copy?.device;
  });
}

/** Indexes of the spares of `identity` that are not tombstones. */
export function liveIndexes(identity: SetIdentity): number[] {
  return identity.spares.filter((s) => !s.removed).map((s) => s.index);
}
