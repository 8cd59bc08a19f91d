// Typed errors of the block layer: one class per condition, each with a stable `code`.
import { DmremapError } from "../core/errors.js";

/** Base of every block-layer error. */
export class BlockError extends DmremapError {}

/** The medium failed for a byte range (EIO to a client). */
export class MediumError extends BlockError {
  constructor(
    readonly device: string,
    readonly op: "read" | "write" | "flush" | "trim" | "zero",
    readonly offsetBytes: number,
    readonly lengthBytes: number,
    message?: string,
    options?: { cause?: unknown },
  ) {
    super(
      "EMEDIUM",
      message ?? `${device}: medium error on ${op} of bytes ${offsetBytes}..${offsetBytes + lengthBytes - 1}`,
      options,
    );
  }
}

/** A request reaches past the end of the device. */
export class OutOfRangeError extends BlockError {
  constructor(
    readonly device: string,
    readonly offsetBytes: number,
    readonly lengthBytes: number,
    readonly sizeBytes: number,
  ) {
    super(
      "ERANGE",
      `${device}: request at offset ${offsetBytes} length ${lengthBytes} is outside the device (size ${sizeBytes})`,
    );
  }
}

/** The device was closed. */
export class DeviceClosedError extends BlockError {
  constructor(readonly device: string) {
    super("ECLOSED", `${device}: device is closed`);
  }
}

/** A write-type request reached a read-only device. */
export class ReadOnlyError extends BlockError {
  constructor(
    readonly device: string,
    readonly reason?: string,
  ) {
    super("EROFS", `${device}: device is read-only${reason ? ` (${reason})` : ""}`);
  }
}

/** The device does not implement an operation. */
export class UnsupportedError extends BlockError {
  constructor(
    readonly device: string,
    readonly op: string,
  ) {
    super("ENOTSUP", `${device}: ${op} is not supported`);
  }
}

/** No space left: e.g. no spare slot for a remap. */
export class NoSpaceError extends BlockError {
  constructor(
    readonly device: string,
    message: string,
  ) {
    super("ENOSPC", `${device}: ${message}`);
  }
}

/** A device spec or device option is invalid; the message names the bad value. */
export class SpecError extends BlockError {
  constructor(
    readonly spec: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super("EINVAL", message, options);
  }
}

/** The device could not be opened (missing file, permission, connection refused ...). */
export class OpenError extends BlockError {
  constructor(
    readonly spec: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super("EOPEN", message, options);
  }
}

/** A remote device stayed unreachable past its reconnect window; not a medium error (do not remap). */
export class DisconnectedError extends BlockError {
  constructor(
    readonly device: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super("EDISCONNECTED", `${device}: ${message}`, options);
  }
}

/** Two devices of a set (or of two sets) share bytes: one would overwrite the other. */
export class OverlapError extends BlockError {
  constructor(
    readonly spec: string,
    readonly otherSpec: string,
    message: string,
  ) {
    super("EOVERLAP", message);
  }
}

/** A block device is mounted or claimed by another user (O_EXCL open refused with EBUSY). */
export class DeviceInUseError extends BlockError {
  constructor(
    readonly device: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super("EINUSE", message, options);
  }
}

/** A device carries a recognisable signature (filesystem, partition table, ...) and --force was not given. */
export class SignatureFoundError extends BlockError {
  constructor(
    readonly device: string,
    readonly found: string,
    message: string,
  ) {
    super("ESIGNATURE", message);
  }
}

/** A remote device (NBD server) refused a request with an error that has no closer meaning here. */
export class RemoteError extends BlockError {
  constructor(
    readonly device: string,
    readonly errno: string,
    message: string,
  ) {
    super("EREMOTE", message);
  }
}

/** I/O on a spare that is missing from the set (a placeholder of its recorded size): EIO, like a bad block. */
export class MissingDeviceError extends MediumError {
  constructor(
    device: string,
    op: "read" | "write" | "flush" | "trim" | "zero",
    offsetBytes: number,
    lengthBytes: number,
  ) {
    super(
      device,
      op,
      offsetBytes,
      lengthBytes,
      `${device} is missing: ${op} of ${lengthBytes} bytes at ${offsetBytes} fails`,
    );
  }
}
