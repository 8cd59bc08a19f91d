// What a set opened without some of its spares cannot serve: which spares are missing and how many
// remapped blocks had their slot there (those read EIO until rewritten). Part of the status view.
import type { AssembledTarget } from "./stack.js";

/** A spare the set opened without. */
export interface MissingSpareView {
  readonly index: number;
  readonly uuid: string;
  /** The device it was last opened as, when recorded. */
  readonly lastKnownDevice?: string;
}

/** Missing spares and the blocks they make unavailable (both empty/zero on a complete set). */
export interface DegradedView {
  readonly missingSpares: readonly MissingSpareView[];
  /** Remapped blocks with no copy on a present spare (their slot is on a missing spare). */
  readonly unavailableBlocks: number;
}

/** The degraded view of `target` (pages through the remap table only when a spare is missing). */
export function degradedView(target: AssembledTarget): DegradedView {
  // A missing spare removed while serving (spare remove) is a tombstone now, no longer missing.
  const removed = (index: number) => target.device.setIdentity.spares[index]?.removed === true;
  const missing = (target.opened.missingSpares ?? []).filter((m) => !removed(m.index));
  if (missing.length === 0) return { missingSpares: [], unavailableBlocks: 0 };
  const indexes = new Set(missing.map((m) => m.index));
  let unavailableBlocks = 0;
  let cursor: number | undefined = 0;
  while (cursor !== undefined) {
    const page = target.device.list({ cursor, limit: 100_000 });
    for (const e of page.entries) {
      // A mirrored block with a copy on a present spare stays readable.
      if (!indexes.has(e.spare)) continue;
      const mirrored = target.device.mirrorCopies === 2;
      if (!mirrored || target.device.copySpares(e.block).every((i) => indexes.has(i))) unavailableBlocks++;
    }
    cursor = page.nextCursor ?? undefined;
  }
  return {
    missingSpares: missing.map((m) => ({
      index: m.index,
      uuid: m.uuid,
      ...(m.lastKnownDevice ? { lastKnownDevice: m.lastKnownDevice } : {}),
    })),
    unavailableBlocks,
  };
}

/** One sentence for the status reason: "spare 1 (uuid, last seen as /x) missing: 3 blocks unavailable". */
export function degradedReason(view: DegradedView): string | undefined {
  if (view.missingSpares.length === 0) return undefined;
  const names = view.missingSpares.map(
    (m) => `spare ${m.index} (${m.uuid}${m.lastKnownDevice ? `, last seen as ${m.lastKnownDevice}` : ""})`,
  );
  return `${names.join(", ")} missing: ${view.unavailableBlocks} blocks unavailable until rewritten`;
}
