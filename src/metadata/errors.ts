// Typed errors of the metadata store: one class per condition, each with a stable `code`.
import { DmremapError } from "../core/errors.js";

/** Base of every metadata error. */
export class MetadataError extends DmremapError {}

/** No metadata copy could persist a commit: the set must go read-only. */
export class MetadataWriteError extends MetadataError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("EMETAWRITE", message, options);
  }
}

/** The store was closed. */
export class MetadataClosedError extends MetadataError {
  constructor(readonly setName: string) {
    super("EMETACLOSED", `metadata store of set "${setName}" is closed`);
  }
}

/** The table would outgrow the space reserved for it at create (entries, pending, lost, counters). */
export class MetadataCapacityError extends MetadataError {
  constructor(message: string) {
    super("EMETAFULL", message);
  }
}

/** A journal record or snapshot passed in is malformed (bad block, slot or mask). */
export class InvalidRecordError extends MetadataError {
  constructor(message: string) {
    super("EMETARECORD", message);
  }
}

/** Options of create/open are invalid; the message names the bad value. */
export class SetOptionError extends MetadataError {
  constructor(message: string) {
    super("EINVAL", message);
  }
}

/** A spare already holds dmremap metadata and `force` was not given. */
export class SpareInUseError extends MetadataError {
  constructor(
    readonly device: string,
    message: string,
  ) {
    super("ESPAREINUSE", message);
  }
}

/** A spare is too small for the metadata area plus one data slot. */
export class SpareTooSmallError extends MetadataError {
  constructor(
    readonly device: string,
    message: string,
  ) {
    super("ESPARESMALL", message);
  }
}

/** A spare belongs to another set (different set UUID). */
export class ForeignSpareError extends MetadataError {
  constructor(
    readonly device: string,
    readonly expectedUuid: string,
    readonly foundUuid: string,
    message: string,
  ) {
    super("EFOREIGN", message);
  }
}

/** A spare is not a member of the set, or is given twice. */
export class UnknownSpareError extends MetadataError {
  constructor(
    readonly device: string,
    message: string,
  ) {
    super("EUNKNOWNSPARE", message);
  }
}

/** The main device does not match the one the set was created for. */
export class MainMismatchError extends MetadataError {
  constructor(
    readonly device: string,
    message: string,
  ) {
    super("EMAINMISMATCH", message);
  }
}

/** No valid metadata was found on any spare. */
export class NoValidMetadataError extends MetadataError {
  constructor(message: string) {
    super("ENOMETA", message);
  }
}

/** The main device's identity (WWN / serial, file device + inode, NBD URI) is not the recorded one. */
export class MainIdentityMismatchError extends MetadataError {
  constructor(
    readonly expected: string,
    readonly found: string,
    message: string,
  ) {
    super("EMAINMISMATCH", message);
  }
}

/** A format version 1 set cannot be upgraded in place (the message says why and what to do). */
export class UpgradeError extends MetadataError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("EUPGRADE", message, options);
  }
}
