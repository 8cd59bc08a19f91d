// `spare remove` on a served set: the last spare, once it holds no remapped block (drain it first),
// leaves the set through the running metadata store (src/metadata/membership.ts), its metadata is
// wiped, the allocator forgets its slots and its device is closed.
import type { BlockDevice } from "../block/block-device.js";
import { removeLastSpareOnline } from "../metadata/membership.js";
import { SpareInUseError } from "../metadata/errors.js";
import { SpareStore } from "../metadata/spare-store.js";
import type { RemappedDevice } from "../remap/remapped-device.js";
import { SpareOperationError } from "./errors.js";

/** Remove spare `index` (the last one) from the set served by `device`; returns the removed device (closed). */
export async function removeSpareFromServed(device: RemappedDevice, index: number): Promise<BlockDevice> {
  const store = device.metadataStore;
  if (!(store instanceof SpareStore))
    throw new SpareOperationError(device.name, `set "${device.name}" does not keep its metadata on spares`);
  const spares = device.spareUsage();
  const usage = spares.find((s) => s.index === index);
  if (!usage)
    throw new SpareOperationError(
      device.name,
      `set "${device.name}" has no spare ${index} (0..${spares.length - 1})`,
    );
  const last = spares.length - 1;
  if (last === 0)
    throw new SpareOperationError(device.name, `set "${device.name}": its only spare cannot be removed`);
  if (index !== last)
    throw new SpareOperationError(
      device.name,
      `set "${device.name}": only the last spare (${last}) can be removed, not ${index}; drain it instead`,
    );
  if (usage.usedBlocks > 0)
    throw new SpareInUseError(
      String(index),
      `spare ${index} of set "${device.name}" still holds ${usage.usedBlocks} slots; drain it first`,
    );
  // No new slot on it from now on, while other spares have room.
  device.avoidSpare(index);
  const removed = await removeLastSpareOnline(store, index);
  device.detachLastSpare();
  await removed.close();
  return removed;
}
