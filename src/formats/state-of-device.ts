// The formats' view of a served or opened set: read a RemappedDevice's table into a RemapState.
import type { RemappedDevice } from "../remap/remapped-device.js";
import type { RemappedBlock, RemapState } from "./remap-state.js";

/** Snapshot of `device`'s remapped and pending blocks, with the given suspects. */
export function stateOfDevice(device: RemappedDevice, suspects: readonly number[] = []): RemapState {
  const remapped: RemappedBlock[] = [];
  const pending: number[] = [];
  let cursor: number | null = 0;
  while (cursor !== null) {
    const page = device.list({ cursor, limit: 100_000 });
    for (const e of page.entries) {
      remapped.push({
        block: e.block,
        spare: e.spare,
        spareOffsetBytes: e.spareOffsetBytes,
        lostSectors: e.lostSectors,
      });
    }
    pending.push(...page.pending);
    cursor = page.nextCursor;
  }
  const taken = new Set([...pending, ...remapped.map((r) => r.block)]);
  return {
    blockSize: device.blockSize,
    sizeBytes: device.sizeBytes,
    remapped,
    pending,
    suspects: suspects.filter((b) => !taken.has(b)),
  };
}
