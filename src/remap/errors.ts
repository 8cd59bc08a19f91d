// Typed errors of the remap layer (data-path errors reuse the block layer's MediumError, NoSpaceError, ...).
import { BlockError, MediumError } from "../block/errors.js";

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

/** A main write outlived its time budget: it was abandoned (its range stays fenced) and counts as failed. */
export class WriteTimeoutError extends MediumError {
  constructor(
    device: string,
    offsetBytes: number,
    lengthBytes: number,
    readonly timeoutMs: number,
  ) {
    super(
      device,
      "write",
      offsetBytes,
      lengthBytes,
      `${device}: write of bytes ${offsetBytes}..${offsetBytes + lengthBytes - 1} still running after ${timeoutMs} ms; abandoned and fenced`,
    );
  }
}

/**
 * A main read of a range fenced behind an abandoned write: not a medium error (nothing is known to
 * be wrong with the data), so it never counts against the block; to a client it is EIO.
 */
export class FencedRangeError extends BlockError {
  constructor(
    readonly device: string,
    readonly offsetBytes: number,
    readonly lengthBytes: number,
  ) {
    super(
      "EMEDIUM",
      `${device}: bytes ${offsetBytes}..${offsetBytes + lengthBytes - 1} are fenced behind a write main has not finished`,
    );
  }
}
