// What the server knows about one export, and the transmission flags it advertises for it.
import type { BlockDevice } from "../block/block-device.js";
import type { RequestTimesObserver } from "../core/request-times.js";
import { MAX_PAYLOAD_BYTES, MIN_BLOCK_BYTES, TFlag } from "./protocol.js";

/** One export: a name (the empty name is the default export) and the device behind it. */
export interface NbdExport {
  readonly name: string;
  readonly device: BlockDevice;
  /** Shown by `nbdinfo --list` / INFO_DESCRIPTION. */
  readonly description?: string;
  /** Preferred I/O size advertised in INFO_BLOCK_SIZE (the remap unit); default 4096. */
  readonly preferredBlockSize?: number;
  /**
   * Minimum block size advertised (default 512). Devices accept unaligned requests, so 1 is honest
   * too; strict libnbd clients such as nbdfuse reject unaligned I/O client-side unless it is 1.
   */
  readonly minimumBlockSize?: number;
  /**
   * Durations of the READ, WRITE, FLUSH, TRIM and WRITE_ZEROES requests the device finished (failed
   * and late ones included), from validation to the device's answer, in batches; none when absent.
   */
  readonly observe?: RequestTimesObserver;
}

/** Block size constraints advertised for an export. */
export interface BlockSizes {
  readonly minimum: number;
  readonly preferred: number;
  readonly maximum: number;
}

/** INFO_BLOCK_SIZE values: minimum 512 (or as configured), preferred = the remap unit, maximum 32 MiB. */
export function blockSizesOf(exp: NbdExport): BlockSizes {
  return {
    minimum: exp.minimumBlockSize ?? MIN_BLOCK_BYTES,
    preferred: exp.preferredBlockSize ?? 4096,
    maximum: MAX_PAYLOAD_BYTES,
  };
}

/** Transmission flags of an export; DF only when structured replies were negotiated. */
export function transmissionFlagsOf(device: BlockDevice, structuredReplies: boolean): number {
  const caps = device.capabilities;
  let flags = TFlag.HAS_FLAGS | TFlag.SEND_FLUSH | TFlag.SEND_CACHE | TFlag.CAN_MULTI_CONN;
  if (caps.readOnly) flags |= TFlag.READ_ONLY;
  else {
    flags |= TFlag.SEND_FUA | TFlag.SEND_WRITE_ZEROES | TFlag.SEND_FAST_ZERO;
    if (caps.trim) flags |= TFlag.SEND_TRIM;
  }
  if (structuredReplies) flags |= TFlag.SEND_DF;
  return flags;
}
