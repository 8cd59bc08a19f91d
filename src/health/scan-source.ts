// What the scanner needs of a remapped device: its geometry, which blocks to skip, the user read path
// and its events. The adapter keeps scanner.ts independent of RemappedDevice (and testable with fakes).
import type { RemapEvents } from "../remap/remap-events.js";
import type { RemappedDevice } from "../remap/remapped-device.js";

/** A device the scanner can sweep. */
export interface ScanSource {
  readonly name: string;
  readonly blockSize: number;
  readonly blockCount: number;
  readonly sizeBytes: number;
  /** The first block in [firstBlock, endBlock) that is remapped or pending, or -1. */
  firstSkipped(firstBlock: number, endBlock: number): number;
  /** Is this block remapped or pending? */
  isSkipped(block: number): boolean;
  /** Read through the user read path; throws MediumError when a block stayed unreadable. */
  read(offsetBytes: number, target: Uint8Array): Promise<void>;
  /** Receive the device's events; returns the unsubscribe function. */
  subscribe(listener: RemapEvents): () => void;
}

/** The scan view of a remapped device. */
export function remapScanSource(device: RemappedDevice): ScanSource {
  return {
    name: device.name,
    blockSize: device.blockSize,
    blockCount: device.blockCount,
    sizeBytes: device.sizeBytes,
    firstSkipped: (first, end) => device.firstRemappedOrPending(first, end),
    isSkipped: (block) => device.isRemappedOrPending(block),
    read: (offsetBytes, target) => device.scanRead(offsetBytes, target),
    subscribe: (listener) => device.subscribe(listener),
  };
}
