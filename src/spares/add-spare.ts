// `spare add` on a set that is not served: opens every member and the new device, checks the new
// device (blank, no signature unless forced), and adds it with the crash-safe metadata operation
// (src/metadata/membership.ts). Locking is the caller's (daemon/set-lock), injected as a function.
import type { BlockDevice } from "../block/block-device.js";
import { identifySpares } from "../metadata/identify-spares.js";
import { addSpare } from "../metadata/membership.js";
import type { SetIdentity, SpareIdentity } from "../metadata/metadata-store.js";
import { openSet } from "../metadata/open-set.js";
import { refuseSignatures } from "./add-spare-online.js";

/** A held lock on a set (daemon/set-lock's SetLock). */
export interface HeldLock {
  release(): Promise<void>;
}

/** Options of addSpareOffline. */
export interface AddSpareOfflineOptions {
  /** Every member of the set, any order. */
  readonly members: readonly BlockDevice[];
  /** The device to add. */
  readonly device: BlockDevice;
  /** Overwrite a filesystem / partition table / another set's metadata on `device`. */
  readonly force?: boolean;
  /** Take the set's exclusive lock (the set must not be served meanwhile). */
  readonly lock: (uuid: string, name: string) => Promise<HeldLock>;
}

/** What an add did. */
export interface AddSpareResult {
  readonly identity: SetIdentity;
  readonly added: SpareIdentity;
  readonly notes: readonly string[];
}

/** Add `device` to the set of `members`; devices are left open (the caller closes them). */
export async function addSpareOffline(options: AddSpareOfflineOptions): Promise<AddSpareResult> {
  const { members, device } = options;
  const force = options.force ?? false;
  const identified = await identifySpares(members);
  const { identity } = identified;
  const lock = await options.lock(identity.uuid, identity.name);
  try {
    if (!force) await refuseSignatures(device);
    const opened = await openSet({ spares: members, identified });
    const ordered = [...identified.members].sort((a, b) => a.spareIndex - b.spareIndex).map((m) => m.device);
    const after = await addSpare(opened, ordered, device, { force });
    await after.store.close();
    const next = after.store.identity;
    return { identity: next, added: next.spares[next.spares.length - 1]!, notes: after.notes };
  } finally {
    await lock.release();
  }
}
