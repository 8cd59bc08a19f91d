// What replacing the main of a served set would do now (`replace-main --dry-run`): blocks read from
// the old main, remapped blocks moved back after the switch, pending blocks retried last.
import type { RemappedDevice } from "../remap/remapped-device.js";

/** What a replacement would do now (for --dry-run). */
export interface ReplacePlan {
  readonly sizeBytes: number;
  readonly blockSize: number;
  readonly blocks: number;
  readonly remapped: number;
  readonly pending: number;
  /** Blocks read from the old main by the bulk pass. */
  readonly toCopy: number;
  readonly newDeviceBytes: number;
}

/** The plan of replacing `device`'s main by a device of `newDeviceBytes`. */
export function planReplace(device: RemappedDevice, newDeviceBytes: number): ReplacePlan {
  const status = device.status();
  const remapped = device.remappedCount;
  const pending = status.pendingBlocks;
  return {
    sizeBytes: device.sizeBytes,
    blockSize: device.blockSize,
    blocks: device.blockCount,
    remapped,
    pending,
    toCopy: device.blockCount - remapped - pending,
    newDeviceBytes,
  };
}
