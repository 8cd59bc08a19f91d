// The one mapping from internal (block-layer) errors to NBD errno values at the NBD edge.
import { Errno } from "./protocol.js";

/** Which kind of request failed; decides the errno of an out-of-range error. */
export type RequestKind = "read" | "write" | "flush" | "trim" | "zero" | "cache" | "status";

/** Logger sink for unknown errors. */
export interface ErrnoLogger {
  error(message: string, fields?: Record<string, unknown>): void;
}

/** Map an error thrown by a BlockDevice to an NBD errno; unknown errors become EIO and are logged. */
export function toNbdErrno(err: unknown, kind: RequestKind, logger?: ErrnoLogger): number {
  const code = (err as { code?: unknown } | null)?.code;
  switch (code) {
    case "EMEDIUM":
      return Errno.EIO;
    case "ENOSPC":
      return Errno.ENOSPC;
    case "EROFS":
      return Errno.EPERM;
    case "ERANGE":
      return kind === "write" || kind === "zero" ? Errno.ENOSPC : Errno.EINVAL;
    case "ENOTSUP":
      return Errno.ENOTSUP;
    case "EDISCONNECTED":
    case "ETIMEDOUT":
      return Errno.EIO;
    case "ECLOSED":
      return Errno.ESHUTDOWN;
    default:
      logger?.error("unexpected device error", {
        kind,
        error: err instanceof Error ? err.message : String(err),
        code,
      });
      return Errno.EIO;
  }
}
