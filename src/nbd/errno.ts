// The one mapping from internal errors to NBD errno values at the NBD edge.
import { DmremapError, type ErrorCode } from "../core/errors.js";
import { Errno } from "./protocol.js";

/** Which kind of request failed; decides the errno of an out-of-range error. */
export type RequestKind = "read" | "write" | "flush" | "trim" | "zero" | "cache" | "status";

/** Logger sink for unknown errors. */
export interface ErrnoLogger {
  error(message: string, fields?: Record<string, unknown>): void;
}

/** An out-of-range write is ENOSPC (as on a real disk), any other out-of-range request EINVAL. */
const BY_KIND = "by-kind";

/**
 * NBD errno of every error code (exhaustive). `null` marks codes that no device raises on the data
 * path (HTTP, CLI, configuration): if one ever reaches a client it is EIO and logged as a bug.
 */
export const NBD_ERRNO_OF: Readonly<Record<ErrorCode, number | typeof BY_KIND | null>> = {
  EMEDIUM: Errno.EIO,
  ERANGE: BY_KIND,
  ECLOSED: Errno.ESHUTDOWN,
  EROFS: Errno.EPERM,
  ENOTSUP: Errno.ENOTSUP,
  ENOSPC: Errno.ENOSPC,
  EINVAL: Errno.EINVAL,
  EOPEN: Errno.EIO,
  EDISCONNECTED: Errno.EIO,
  EREMOTE: Errno.EIO,
  EOVERLAP: null,
  EINUSE: null,
  ESIGNATURE: null,
  EBLOCKSTATE: Errno.EINVAL,
  EMETAWRITE: Errno.EIO,
  EMETACLOSED: Errno.ESHUTDOWN,
  EMETAFULL: Errno.ENOSPC,
  EMETARECORD: Errno.EIO,
  ESPAREINUSE: null,
  ESPARESMALL: null,
  EFOREIGN: null,
  EUNKNOWNSPARE: null,
  EMAINMISMATCH: null,
  ENOMETA: null,
  EUPGRADE: null,
  EPROTO: Errno.EIO,
  EOPTION: Errno.EIO,
  ECONNCLOSED: Errno.EIO,
  ECONFIG: null,
  ELISTEN: null,
  ELOCK: null,
  EBUSY: null,
  ESTARTED: null,
  EBATCH: null,
  EBADREQUEST: null,
  ENOTFOUND: null,
  EMETHOD: null,
  EUNAUTHORIZED: null,
  EFORBIDDEN: null,
  ETOOLARGE: null,
  EMEDIATYPE: null,
  ESHUTDOWN: null,
  EALERT: null,
  EFORMAT: null,
  EPROBE: null,
  ESCANSTATE: null,
  EHEALTHSTATE: null,
  ESMART: null,
  EUSAGE: null,
  EUNREACHABLE: null,
  EAPI: null,
  EADDRINUSE: null,
};

/** Map an error thrown by a BlockDevice to an NBD errno; unknown errors become EIO and are logged. */
export function toNbdErrno(err: unknown, kind: RequestKind, logger?: ErrnoLogger): number {
  const rule = err instanceof DmremapError ? NBD_ERRNO_OF[err.code] : null;
  if (rule === BY_KIND) return kind === "write" || kind === "zero" ? Errno.ENOSPC : Errno.EINVAL;
  if (rule !== null) return rule;
  logger?.error("unexpected device error", {
    kind,
    error: err instanceof Error ? err.message : String(err),
    code: (err as { code?: unknown } | null)?.code,
  });
  return Errno.EIO;
}
