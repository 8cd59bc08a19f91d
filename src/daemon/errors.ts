// Typed errors of the daemon: configuration problems and HTTP API request errors, each with a stable `code`.
import { DmremapError, type ErrorCode } from "../core/errors.js";

/** Base of every daemon error. */
export class DaemonError extends DmremapError {}

/** One problem found in a configuration file. */
export interface ConfigIssue {
  /** Dotted key path, e.g. `target[1].policy.read_retries` (array indexes are 0-based). */
  readonly keyPath: string;
  /** What is wrong, naming the bad value. */
  readonly message: string;
}

/** The configuration file is unreadable or invalid; `issues` lists every problem found. */
export class ConfigError extends DaemonError {
  constructor(
    readonly file: string,
    readonly issues: readonly ConfigIssue[],
    options?: { cause?: unknown },
  ) {
    super(
      "ECONFIG",
      issues.map((i) => `${file}: ${i.keyPath ? `${i.keyPath}: ` : ""}${i.message}`).join("\n"),
      options,
    );
  }
}

/** A listen address ("tcp:HOST:PORT" or "unix:PATH") is malformed, or its socket path is taken. */
export class ListenAddressError extends DaemonError {
  constructor(
    readonly address: string,
    message: string,
  ) {
    super("ELISTEN", message);
  }
}

/** An HTTP request was refused; `status` is the HTTP status it maps to. */
export class HttpError extends DaemonError {
  constructor(
    code: ErrorCode,
    readonly status: number,
    readonly title: string,
    detail: string,
    /** Extra members for the problem details body (e.g. `allow`, `completed`). */
    readonly extensions: Readonly<Record<string, unknown>> = {},
    options?: { cause?: unknown },
  ) {
    super(code, detail, options);
  }
}

/** The request is malformed (bad JSON, bad block number ...). */
export class BadRequestError extends HttpError {
  constructor(detail: string, extensions?: Record<string, unknown>) {
    super("EBADREQUEST", 400, "Bad request", detail, extensions);
  }
}

/** No such route or target. */
export class NotFoundError extends HttpError {
  constructor(detail: string) {
    super("ENOTFOUND", 404, "Not found", detail);
  }
}

/** The route exists but not for this method. */
export class MethodNotAllowedError extends HttpError {
  constructor(
    method: string,
    path: string,
    readonly allow: readonly string[],
  ) {
    super(
      "EMETHOD",
      405,
      "Method not allowed",
      `${method} is not allowed on ${path} (allowed: ${allow.join(", ")})`,
    );
  }
}

/** A mutating request carries no bearer token. */
export class UnauthorizedError extends HttpError {
  constructor(detail: string) {
    super("EUNAUTHORIZED", 401, "Unauthorized", detail);
  }
}

/** A mutating request carries a wrong token, or mutations are disabled on this listener. */
export class ForbiddenError extends HttpError {
  constructor(detail: string) {
    super("EFORBIDDEN", 403, "Forbidden", detail);
  }
}

/** The request body is larger than the limit. */
export class PayloadTooLargeError extends HttpError {
  constructor(limitBytes: number) {
    super("ETOOLARGE", 413, "Payload too large", `request body is larger than ${limitBytes} bytes`);
  }
}

/** The request body is not JSON. */
export class UnsupportedMediaTypeError extends HttpError {
  constructor(contentType: string) {
    super(
      "EMEDIATYPE",
      415,
      "Unsupported media type",
      `content type "${contentType}" is not application/json`,
    );
  }
}

/** A multi-block request failed part-way; `cause` is the error of `failedBlock` and decides the HTTP status. */
export class BatchFailedError extends DaemonError {
  constructor(
    readonly action: string,
    readonly failedBlock: number,
    readonly completed: readonly number[],
    cause: unknown,
  ) {
    super(
      "EBATCH",
      `${action} of block ${failedBlock} failed${completed.length ? ` after ${completed.length} block(s) succeeded` : ""}: ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    );
  }
}

/** No lock file could be created or taken for a set (no writable lock folder, lock race lost). */
export class LockError extends DaemonError {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super("ELOCK", message);
  }
}

/** A service was started twice. */
export class AlreadyStartedError extends DaemonError {
  constructor(readonly service: string) {
    super("ESTARTED", `${service} is already started`);
  }
}

/** The daemon stopped, but something could not be finished within the shutdown bound (exit code 1). */
export class ShutdownIncompleteError extends DaemonError {
  constructor(readonly unfinished: readonly string[]) {
    super("ESHUTDOWN", `shutdown incomplete: ${unfinished.join("; ")}`);
  }
}

/** An alert could not be delivered (exec program failed, webhook refused or unreachable). */
export class AlertDeliveryError extends DaemonError {
  constructor(
    readonly sink: string,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super("EALERT", `${sink}: alert not delivered: ${reason}`, options);
  }
}
