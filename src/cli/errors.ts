// Errors of the command line, and the one mapping from any error to an exit code and a message.
import { DmremapError, type ErrorCode } from "../core/errors.js";

/** Base of every CLI error. */
export class CliError extends DmremapError {}

/** The command line was wrong (unknown flag, missing argument, bad value). Exit code 2. */
export class UsageError extends CliError {
  constructor(message: string) {
    super("EUSAGE", message);
  }
}

/** The daemon did not answer at all (not running, wrong address). Exit code 3. */
export class DaemonUnreachableError extends CliError {
  constructor(
    readonly address: string,
    cause: unknown,
  ) {
    super(
      "EUNREACHABLE",
      `no dmremap daemon answers at ${address} (${(cause as Error)?.message ?? String(cause)})`,
      { cause },
    );
  }
}

/** The daemon answered with an error (RFC 9457 problem details); `problem.code` is the daemon's code. */
export class ApiProblemError extends CliError {
  constructor(
    readonly status: number,
    readonly problem: { title?: string; detail?: string; code?: string },
  ) {
    super("EAPI", `daemon: ${problem.detail ?? problem.title ?? `HTTP ${status}`}`);
  }
}

/** A listener of `serve` / `demo` could not bind: something else holds the address. Exit code 1. */
export class AddressInUseError extends CliError {
  constructor(
    readonly address: string,
    readonly listener: "api" | "nbd",
    options?: { cause?: unknown },
  ) {
    const fix =
      listener === "api"
        ? "use --api unix:PATH, or --api tcp:127.0.0.1:0 for a free port (printed when ready)"
        : "use another --listen address (tcp:HOST:0 picks a free port, printed when ready)";
    super("EADDRINUSE", `${address} is already in use (another dmremap daemon or demo?): ${fix}`, options);
  }
}

/** Exit codes: 0 ok, 1 operation failed, 2 usage error, 3 the daemon could not be reached. */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;
export const EXIT_UNREACHABLE = 3;

/**
 * Exit code of every error code (exhaustive: a new code does not compile until it is placed).
 * Only a wrong command line is 2 and only an unreachable daemon is 3; every other refusal is 1.
 */
export const EXIT_CODE_OF: Readonly<Record<ErrorCode, number>> = {
  EMEDIUM: EXIT_FAILED,
  ERANGE: EXIT_FAILED,
  ECLOSED: EXIT_FAILED,
  EROFS: EXIT_FAILED,
  ENOTSUP: EXIT_FAILED,
  ENOSPC: EXIT_FAILED,
  EINVAL: EXIT_FAILED,
  EOPEN: EXIT_FAILED,
  EDISCONNECTED: EXIT_FAILED,
  EREMOTE: EXIT_FAILED,
  EOVERLAP: EXIT_FAILED,
  EINUSE: EXIT_FAILED,
  ESIGNATURE: EXIT_FAILED,
  EBLOCKSTATE: EXIT_FAILED,
  EMETAWRITE: EXIT_FAILED,
  EMETACLOSED: EXIT_FAILED,
  EMETAFULL: EXIT_FAILED,
  EMETARECORD: EXIT_FAILED,
  ESPAREINUSE: EXIT_FAILED,
  ESPARESMALL: EXIT_FAILED,
  EFOREIGN: EXIT_FAILED,
  EUNKNOWNSPARE: EXIT_FAILED,
  EMAINMISMATCH: EXIT_FAILED,
  ENOMETA: EXIT_FAILED,
  EUPGRADE: EXIT_FAILED,
  EPROTO: EXIT_FAILED,
  EOPTION: EXIT_FAILED,
  ECONNCLOSED: EXIT_FAILED,
  ECONFIG: EXIT_FAILED,
  ELISTEN: EXIT_FAILED,
  ELOCK: EXIT_FAILED,
  EBUSY: EXIT_FAILED,
  ESTARTED: EXIT_FAILED,
  EBATCH: EXIT_FAILED,
  EBADREQUEST: EXIT_FAILED,
  ENOTFOUND: EXIT_FAILED,
  EMETHOD: EXIT_FAILED,
  EUNAUTHORIZED: EXIT_FAILED,
  EFORBIDDEN: EXIT_FAILED,
  ETOOLARGE: EXIT_FAILED,
  EMEDIATYPE: EXIT_FAILED,
  ESHUTDOWN: EXIT_FAILED,
  EALERT: EXIT_FAILED,
  EFORMAT: EXIT_FAILED,
  EPROBE: EXIT_FAILED,
  ESCANSTATE: EXIT_FAILED,
  EHEALTHSTATE: EXIT_FAILED,
  ESMART: EXIT_FAILED,
  EUSAGE: EXIT_USAGE,
  EUNREACHABLE: EXIT_UNREACHABLE,
  EAPI: EXIT_FAILED,
  EADDRINUSE: EXIT_FAILED,
};

/** node:util parseArgs codes that mean a wrong command line. */
const PARSE_ARGS_USAGE_CODES: ReadonlySet<unknown> = new Set([
  "ERR_PARSE_ARGS_UNKNOWN_OPTION",
  "ERR_PARSE_ARGS_INVALID_OPTION_VALUE",
  "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL",
]);

/** What the CLI prints and returns for an error; `known` is false for errors outside the vocabulary. */
export interface CliErrorReport {
  readonly exitCode: number;
  readonly message: string;
  readonly known: boolean;
}

/** Map an error to an exit code and one human line (the only error mapping of the CLI). */
export function describeCliError(err: unknown): CliErrorReport {
  if (err instanceof DmremapError)
    return { exitCode: EXIT_CODE_OF[err.code], message: err.message, known: true };
  if (err instanceof Error && PARSE_ARGS_USAGE_CODES.has((err as NodeJS.ErrnoException).code)) {
    return { exitCode: EXIT_USAGE, message: err.message, known: true };
  }
  // Plain Errors (RangeError from a size parser, ...) keep their message; they still exit 1.
  return { exitCode: EXIT_FAILED, message: err instanceof Error ? err.message : String(err), known: false };
}
