// The one error vocabulary of dmremap: every typed error extends DmremapError and carries a code
// from the closed ErrorCode union, so every boundary map (NBD errno, HTTP status, exit code) is
// checked for completeness by the compiler.

/**
 * Every error code, grouped by the folder whose errors.ts raises it. Adding a code: add it here
 * (one line), add its class to that folder's errors.ts, then fix what the compiler names (the
 * NBD errno, HTTP status and exit code tables and the table-driven boundary test) and regenerate
 * docs/ERRORS.md (`node dist/src/cli/error-docs.js`).
 */
export const ERROR_CODES = [
  // block/
  "EMEDIUM",
  "ERANGE",
  "ECLOSED",
  "EROFS",
  "ENOTSUP",
  "ENOSPC",
  "EINVAL",
  "EOPEN",
  "EDISCONNECTED",
  "EREMOTE",
  "EOVERLAP",
  "EINUSE",
  "ESIGNATURE",
  // remap/
  "EBLOCKSTATE",
  // metadata/
  "EMETAWRITE",
  "EMETACLOSED",
  "EMETAFULL",
  "EMETARECORD",
  "ESPAREINUSE",
  "ESPARESMALL",
  "EFOREIGN",
  "EUNKNOWNSPARE",
  "EMAINMISMATCH",
  "ENOMETA",
  "EUPGRADE",
  // nbd/
  "EPROTO",
  "EOPTION",
  "ECONNCLOSED",
  // daemon/
  "ECONFIG",
  "ELISTEN",
  "ELOCK",
  "EBUSY",
  "ESTARTED",
  "EBATCH",
  "EBADREQUEST",
  "ENOTFOUND",
  "EMETHOD",
  "EUNAUTHORIZED",
  "EFORBIDDEN",
  "ETOOLARGE",
  "EMEDIATYPE",
  "ESHUTDOWN",
  "EALERT",
  // formats/
  "EFORMAT",
  "EPROBE",
  // cli/
  "EUSAGE",
  "EUNREACHABLE",
  "EAPI",
  "EADDRINUSE",
  // health/
  "ESCANSTATE",
  "EHEALTHSTATE",
  "ESMART",
] as const;

/** A stable error code; closed: boundary tables are `Record<ErrorCode, ...>`. */
export type ErrorCode = (typeof ERROR_CODES)[number];

const CODE_SET: ReadonlySet<string> = new Set(ERROR_CODES);

/** True for a string that is one of the ErrorCode members. */
export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === "string" && CODE_SET.has(value);
}

/** Base of every dmremap error: `name` is the class name, `code` a member of ErrorCode. */
export class DmremapError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** True when `err` is a DmremapError, and (when given) carries `code`. */
export function isDmremapError(err: unknown, code?: ErrorCode): err is DmremapError {
  return err instanceof DmremapError && (code === undefined || err.code === code);
}

/** Compile-time exhaustiveness check for a switch over ErrorCode (or any closed union). */
export function assertNever(value: never, what = "value"): never {
  throw new Error(`unexpected ${what}: ${String(value)}`);
}
