// `spare remove` on a served set (or, offline, on a set that is not served): a spare that holds no remapped block (drain it first) leaves the
// set through the running metadata store (src/metadata/membership.ts), its metadata is wiped, the
// allocator never uses its slots again and its device is closed. The last spare leaves the spare
// table; any other one stays there as a tombstone so no slot number changes (docs/FORMAT.md). A
// missing spare (degraded set) leaves as a tombstone once it holds nothing (mirror: after a rebuild).
import type { BlockDevice } from "../block/block-device.js";
import { MissingDevice } from "../block/missing-device.js";
import { removeSpareOnline } from "../metadata/membership.js";
import { SpareInUseError } from "../metadata/errors.js";
import { SpareStore } from "../metadata/spare-store.js";
import type { RemappedDevice } from "../remap/remapped-device.js";
import { identifySpares } from "../metadata/identify-spares.js";
import type { SetIdentity } from "../metadata/metadata-store.js";
import { openSet } from "../metadata/open-set.js";
import type { HeldLock } from "./add-spare.js";
import { SpareOperationError } from "./errors.js";

/** Remove spare `index` from the set served by `device`; returns the removed device (closed). */
export async function removeSpareFromServed(device: RemappedDevice, index: number): Promise<BlockDevice> {
  const store = device.metadataStore;
  if (!(store instanceof SpareStore))
    throw new SpareOperationError(device.name, `set "${device.name}" does not keep its metadata on spares`);
  const spares = device.spareUsage();
  const usage = spares.find((s) => s.index === index);
  const live = store.identity.spares.filter((s) => !s.removed).map((s) => s.index);
  if (!usage || !live.includes(index))
    throw new SpareOperationError(
      device.name,
      `set "${device.name}" has no spare ${index} (its spares: ${live.join(", ")})`,
    );
  if (live.length === 1)
    throw new SpareOperationError(device.name, `set "${device.name}": its only spare cannot be removed`);
  // A missing spare's slots that no block references (writes there failed) are not holdings.
  const missing = device.spareDevices[index] instanceof MissingDevice;
  const held = missing ? device.blocksOnSpare(index).length : usage.usedBlocks;
  if (held > 0)
    throw new SpareInUseError(
      String(index),
      missing
        ? `spare ${index} of set "${device.name}" is missing and still holds ${held} slots; ${device.mirrorCopies === 2 ? "add a spare and run spare rebuild first" : "their only copy is on it: bring it back and drain it"}`
        : `spare ${index} of set "${device.name}" still holds ${held} slots; drain it first`,
    );
  // No new slot on it from now on, while other spares have room.
  device.avoidSpare(index);
  await removeSpareOnline(store, index);
  // The last spare leaves the table, any other (or a missing one) stays as a tombstone.
  const removed = store.identity.spares.length > index ? device.detachSpare(index) : device.detachLastSpare();
  await removed.close();
  return removed;
}

/** Options of removeSpareOffline. */
export interface RemoveSpareOfflineOptions {
  /** Every current member of the set (the one to remove included), any order. */
  readonly members: readonly BlockDevice[];
  /** The spare to remove: one of `members`, or its index in the set. */
  readonly which: BlockDevice | number;
  /** Take the set's exclusive lock (the set must not be served meanwhile). */
  readonly lock: (uuid: string, name: string) => Promise<HeldLock>;
}

/** What an offline remove did. */
export interface RemoveSpareResult {
  readonly identity: SetIdentity;
  readonly index: number;
  /** The remaining members, in set index order. */
  readonly remaining: readonly BlockDevice[];
}

/**
 * Remove a spare from a set that is not served: the same crash-safe metadata operation as online
 * (removeSpareOnline), run on the set opened from every member. Devices are left open.
 */
export async function removeSpareOffline(options: RemoveSpareOfflineOptions): Promise<RemoveSpareResult> {
  const identified = await identifySpares(options.members);
  const { identity } = identified;
  const which = options.which;
  const member =
    typeof which === "number"
      ? identified.members.find((m) => m.spareIndex === which)
      : identified.members.find((m) => m.device === which);
  if (!member) {
    const named = typeof which === "number" ? `spare ${which}` : which.describe();
    throw new SpareOperationError(
      identity.name,
      `set "${identity.name}" has no member ${named} (its spares: ${identified.members.map((m) => `${m.spareIndex} ${m.device.describe()}`).join(", ")})`,
    );
  }
  const lock = await options.lock(identity.uuid, identity.name);
  try {
    const opened = await openSet({ spares: options.members, identified });
    try {
      if (!(opened.store instanceof SpareStore))
        throw new SpareOperationError(
          identity.name,
          `set "${identity.name}" does not keep its metadata on spares`,
        );
      await removeSpareOnline(opened.store, member.spareIndex);
    } finally {
      await opened.store.close();
    }
    const remaining = identified.members.filter((m) => m !== member).map((m) => m.device);
    const after = await identifySpares(remaining);
    return { identity: after.identity, index: member.spareIndex, remaining };
  } finally {
    await lock.release();
  }
}
