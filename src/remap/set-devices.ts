// Checks the main and spare devices handed to a remapped device against the set identity, and puts
// the spares in set index order.
import type { BlockDevice } from "../block/block-device.js";
import { SpecError } from "../block/errors.js";
import { MissingDevice } from "../block/missing-device.js";
import type { OpenedSet } from "../metadata/metadata-store.js";

/**
 * Spares in set index order with a placeholder for each spare the set opened without
 * (`opened.missingSpares`): a MissingDevice of the recorded size, whose every I/O fails like a bad
 * block, so slots there read EIO and writes are remapped elsewhere. Any other hole is an error.
 */
export function withMissingSpares(
  ordered: readonly (BlockDevice | undefined)[],
  opened: OpenedSet,
): BlockDevice[] {
  const identity = opened.store.identity;
  const missing = new Map((opened.missingSpares ?? []).map((m) => [m.index, m]));
  return identity.spares.map((spare) => {
    const device = ordered[spare.index];
    if (device) return device;
    if (spare.removed) return removedSpare(spare.index, spare.sizeBytes);
    const m = missing.get(spare.index);
    if (!m) throw new SpecError("", `set "${identity.name}": spare ${spare.index} (${spare.uuid}) missing`);
    const seen = m.lastKnownDevice ? `, last seen as ${m.lastKnownDevice}` : "";
    return new MissingDevice({ sizeBytes: m.sizeBytes, name: `missing spare ${m.index} (${m.uuid}${seen})` });
  });
}

/** The placeholder of a removed spare (tombstone): no slot is ever allocated on it. */
export function removedSpare(index: number, sizeBytes: number): MissingDevice {
  return new MissingDevice({ sizeBytes, name: `removed spare ${index}` });
}

/** Validate sizes and counts (naming the bad device); returns the spares in set index order. */
export function checkSetDevices(
  main: BlockDevice,
  given: readonly BlockDevice[],
  opened: OpenedSet,
): readonly BlockDevice[] {
  const identity = opened.store.identity;
  if (main.sizeBytes < identity.mainSizeBytes) {
    throw new SpecError(
      main.describe(),
      `main device ${main.describe()} has ${main.sizeBytes} bytes, set "${identity.name}" needs ${identity.mainSizeBytes}`,
    );
  }
  // Only the live spares given (in set index order): a placeholder takes each removed one's place.
  const live = identity.spares.filter((s) => !s.removed);
  const rest = [...given];
  const spares =
    live.length < identity.spares.length && given.length === live.length
      ? identity.spares.map((s) => (s.removed ? removedSpare(s.index, s.sizeBytes) : rest.shift()!))
      : given;
  const ordered = orderSpares(spares, opened);
  if (spares.length !== identity.spares.length) {
    throw new SpecError(
      String(spares.length),
      `set "${identity.name}" has ${identity.spares.length} spares, ${spares.length} given`,
    );
  }
  for (const spare of identity.spares) {
    const device = ordered[spare.index]!;
    const needed = spare.dataOffsetBytes + spare.slotCount * identity.blockSize;
    if (device.sizeBytes < needed) {
      throw new SpecError(
        device.describe(),
        `spare ${spare.index} (${device.describe()}) has ${device.sizeBytes} bytes, its slots need ${needed}`,
      );
    }
  }
  return ordered;
}

/**
 * Spares in set index order. The store's copies name each spare's device (describe()); when those
 * names are unique the given order does not matter, otherwise the caller's order is taken as is.
 */
function orderSpares(spares: readonly BlockDevice[], opened: OpenedSet): readonly BlockDevice[] {
  const indexOf = new Map<string, number>();
  for (const copy of opened.store.copies()) {
    indexOf.set(copy.device, indexOf.has(copy.device) ? -1 : copy.spareIndex);
  }
  const names = spares.map((s) => s.describe());
  if (new Set(names).size !== names.length || names.some((n) => (indexOf.get(n) ?? -1) < 0)) return spares;
  const ordered: BlockDevice[] = [];
  spares.forEach((spare, i) => (ordered[indexOf.get(names[i]!)!] = spare));
  return ordered.length === spares.length && !ordered.includes(undefined as never) ? ordered : spares;
}
