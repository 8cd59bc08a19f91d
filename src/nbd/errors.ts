// Typed errors of the NBD folder: one class per condition, each with a stable `code`.
import { DmremapError } from "../core/errors.js";

/** Base of every NBD error. */
export class NbdError extends DmremapError {}

/** The peer broke the protocol (bad magic, impossible length, unexpected reply). */
export class NbdProtocolError extends NbdError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("EPROTO", message, options);
  }
}

/** The server answered an option with an error reply. */
export class NbdOptionError extends NbdError {
  constructor(
    readonly option: number,
    readonly replyType: number,
    message: string,
  ) {
    super("EOPTION", message);
  }
}

/** A listen address, export or server option is invalid; the message names the bad value. */
export class NbdConfigError extends NbdError {
  constructor(message: string) {
    super("EINVAL", message);
  }
}
