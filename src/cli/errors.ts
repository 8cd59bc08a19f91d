// Errors of the command line, and the one mapping from any error to an exit code and a message.
import { BlockError } from "../block/errors.js";

/** The command line was wrong (unknown flag, missing argument, bad value). Exit code 2. */
export class UsageError extends Error {
  readonly code = "EUSAGE";
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** Exit codes: 0 ok, 1 operation failed, 2 usage error, 3 the daemon could not be reached. */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;
export const EXIT_UNREACHABLE = 3;

/** Map an error to an exit code and one human line (the only error mapping of the CLI). */
export function describeCliError(err: unknown): { exitCode: number; message: string } {
  if (err instanceof UsageError) return { exitCode: EXIT_USAGE, message: err.message };
  if (err instanceof BlockError) return { exitCode: EXIT_FAILED, message: err.message };
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" || code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
      return { exitCode: EXIT_USAGE, message: err.message };
    }
    if (code === "EUNREACHABLE") return { exitCode: EXIT_UNREACHABLE, message: err.message };
    return { exitCode: EXIT_FAILED, message: err.message };
  }
  return { exitCode: EXIT_FAILED, message: String(err) };
}
