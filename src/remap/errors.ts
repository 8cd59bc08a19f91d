// Typed errors of the remap layer (data-path errors reuse the block layer's MediumError, NoSpaceError, ...).
import { BlockError } from "../block/errors.js";

/** A control verb was asked for something the block's state does not allow. */
export class BlockStateError extends BlockError {
  constructor(
    readonly device: string,
    readonly block: number,
    message: string,
  ) {
    super("EBLOCKSTATE", `${device}: block ${block}: ${message}`);
  }
}

/** A block number outside the device. */
export class BlockRangeError extends BlockError {
  constructor(
    readonly device: string,
    readonly block: number,
    readonly blockCount: number,
  ) {
    super("ERANGE", `${device}: block ${block} is outside the device (0..${blockCount - 1})`);
  }
}
