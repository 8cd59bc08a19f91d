// `spare add` on a served set: checks the new device, adds it through the running metadata store
// between two commits (src/metadata/membership.ts addSpareOnline), then hands its slots to the
// allocator. User I/O is not paused; a remap that needs a commit meanwhile waits for the add.
import type { BlockDevice } from "../block/block-device.js";
import { SignatureFoundError } from "../block/errors.js";
import { probeSignatures } from "../block/signature-probe.js";
import { addSpareOnline } from "../metadata/membership.js";
import type { SpareIdentity } from "../metadata/metadata-store.js";
import { SpareStore } from "../metadata/spare-store.js";
import type { RemappedDevice } from "../remap/remapped-device.js";
import { SpareOperationError } from "./errors.js";

/** Result of an online add. */
export interface OnlineAddResult {
  readonly added: SpareIdentity;
  /** Milliseconds from the call until the new slots could be allocated. */
  readonly usableAfterMs: number;
}

/** Refuse a device that carries a filesystem or partition table (someone's data) unless forced. */
export async function refuseSignatures(device: BlockDevice): Promise<void> {
  const found = await probeSignatures(device);
  if (found.length === 0) return;
  const d = device.describe();
  throw new SignatureFoundError(
    d,
    found.join(", "),
    `${d} contains a ${found.join(" and a ")}; adding it as a spare would destroy it (use --force to overwrite)`,
  );
}

/** Add `spare` to the set served by `device`; `now` is the clock of usableAfterMs. */
export async function addSpareToServed(
  device: RemappedDevice,
  spare: BlockDevice,
  options: { force?: boolean; now?: () => number } = {},
): Promise<OnlineAddResult> {
  const now = options.now ?? (() => performance.now());
  const started = now();
  const store = device.metadataStore;
  if (!(store instanceof SpareStore))
    throw new SpareOperationError(device.name, `set "${device.name}" does not keep its metadata on spares`);
  const readOnly = device.readOnlyCause;
  if (readOnly) throw new SpareOperationError(device.name, `set "${device.name}" is read-only: ${readOnly}`);
  if (!options.force) await refuseSignatures(spare);
  const added = await addSpareOnline(store, spare, { force: options.force ?? false });
  device.attachSpare(spare, added);
  return { added, usableAfterMs: now() - started };
}
