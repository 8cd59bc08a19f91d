// The one mapping from errors to HTTP responses: RFC 9457 problem details (application/problem+json).

import type { ServerResponse } from "node:http";
import { DmremapError, type ErrorCode } from "../core/errors.js";
import { BatchFailedError, HttpError, MethodNotAllowedError, UnauthorizedError } from "./errors.js";

/** An RFC 9457 problem details body (plus extension members). */
export interface Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly instance: string;
  /** Stable error code of the error that caused it. */
  readonly code: string;
  readonly [extension: string]: unknown;
}

/** HTTP status and title of one error code. */
export interface CodeStatus {
  readonly status: number;
  readonly title: string;
}

/**
 * HTTP status and title of every error code (exhaustive: a new code does not compile until it is
 * placed). A condition a client can cause or fix is 4xx; 5xx is kept for conditions of the storage
 * or the host that no request can fix: 501 (the device cannot do it), 502 (a device, server or tool
 * below failed), 503 (closed, shutting down, metadata unwritable, lock folder unusable), 507 (no spare
 * or metadata space). 500 is only for unknown errors. HttpError classes carry their own status; the
 * boundary test (src/cli/error-boundaries.test.ts) checks they agree with this table. See docs/ERRORS.md.
 */
export const HTTP_STATUS_OF: Readonly<Record<ErrorCode, CodeStatus>> = {
  EMEDIUM: { status: 502, title: "Medium error" },
  ERANGE: { status: 400, title: "Out of range" },
  ECLOSED: { status: 503, title: "Device is closed" },
  EROFS: { status: 409, title: "Device is read-only" },
  ENOTSUP: { status: 501, title: "Not supported" },
  ENOSPC: { status: 507, title: "No spare space left" },
  EINVAL: { status: 400, title: "Invalid request" },
  EOPEN: { status: 422, title: "Device cannot be opened" },
  EDISCONNECTED: { status: 502, title: "Device is disconnected" },
  EREMOTE: { status: 502, title: "Remote device error" },
  EOVERLAP: { status: 409, title: "Devices overlap" },
  EINUSE: { status: 409, title: "Device is in use" },
  ESIGNATURE: { status: 409, title: "Device holds data" },
  EBLOCKSTATE: { status: 409, title: "Block state does not allow this" },
  EMETAWRITE: { status: 503, title: "Metadata cannot be written" },
  EMETACLOSED: { status: 503, title: "Metadata store is closed" },
  EMETAFULL: { status: 507, title: "Metadata table is full" },
  EMETARECORD: { status: 422, title: "Invalid metadata record" },
  ESPAREINUSE: { status: 409, title: "Spare is in use" },
  ESPARESMALL: { status: 422, title: "Spare is too small" },
  EFOREIGN: { status: 409, title: "Spare belongs to another set" },
  EUNKNOWNSPARE: { status: 422, title: "Unknown spare" },
  EMAINMISMATCH: { status: 409, title: "Main device does not match" },
  ENOMETA: { status: 422, title: "No valid metadata" },
  EUPGRADE: { status: 409, title: "Format upgrade impossible" },
  EPROTO: { status: 502, title: "NBD protocol error" },
  EOPTION: { status: 502, title: "NBD option refused" },
  ECONNCLOSED: { status: 502, title: "Connection closed" },
  ECONFIG: { status: 422, title: "Invalid configuration" },
  ELISTEN: { status: 400, title: "Invalid listen address" },
  ELOCK: { status: 503, title: "Lock unavailable" },
  EBUSY: { status: 409, title: "Set is in use" },
  ESTARTED: { status: 409, title: "Already started" },
  EBATCH: { status: 409, title: "Batch failed" },
  EBADREQUEST: { status: 400, title: "Bad request" },
  ENOTFOUND: { status: 404, title: "Not found" },
  EMETHOD: { status: 405, title: "Method not allowed" },
  EUNAUTHORIZED: { status: 401, title: "Unauthorized" },
  EFORBIDDEN: { status: 403, title: "Forbidden" },
  ETOOLARGE: { status: 413, title: "Payload too large" },
  EMEDIATYPE: { status: 415, title: "Unsupported media type" },
  ESHUTDOWN: { status: 503, title: "Shutdown incomplete" },
  EALERT: { status: 502, title: "Alert not delivered" },
  EFORMAT: { status: 422, title: "Malformed input" },
  EPROBE: { status: 502, title: "Probe failed" },
  ESCANSTATE: { status: 409, title: "Scan state does not allow this" },
  EHEALTHSTATE: { status: 503, title: "Health state file unusable" },
  ESMART: { status: 502, title: "SMART data unavailable" },
  EADDRINUSE: { status: 409, title: "Address in use" },
  EUSAGE: { status: 400, title: "Usage error" },
  EUNREACHABLE: { status: 502, title: "Daemon unreachable" },
  EAPI: { status: 502, title: "Daemon error" },
};

/** Base URI of problem types. */
export const PROBLEM_TYPE_BASE = "https://dmremap.dev/problems/";

/** Map any thrown value to a problem; `known` is false for errors that must be logged as bugs. */
export function problemFromError(err: unknown, instance: string): { problem: Problem; known: boolean } {
  if (err instanceof BatchFailedError) {
    const inner = problemFromError(err.cause, instance);
    const { action, failedBlock, completed } = err;
    const detail = inner.known
      ? err.message
      : `${action} of block ${failedBlock} failed: ${inner.problem.detail}`;
    return { problem: { ...inner.problem, detail, action, failedBlock, completed }, known: inner.known };
  }
  if (err instanceof DmremapError) {
    const { code } = err;
    const { status, title } = err instanceof HttpError ? err : HTTP_STATUS_OF[code];
    const extensions = err instanceof HttpError ? err.extensions : {};
    return {
      problem: {
        type: PROBLEM_TYPE_BASE + code.replace(/^E/, "").toLowerCase(),
        title,
        status,
        detail: err.message,
        instance,
        code,
        ...extensions,
      },
      known: true,
    };
  }
  return {
    problem: {
      type: PROBLEM_TYPE_BASE + "internal",
      title: "Internal server error",
      status: 500,
      detail: `internal error (${err instanceof Error ? err.name : typeof err}); see the daemon log`,
      instance,
      code: "EINTERNAL",
    },
    known: false,
  };
}

/** Write a problem response, with the headers its status calls for (Allow, WWW-Authenticate). */
export function sendProblem(res: ServerResponse, problem: Problem, err?: unknown): void {
  if (err instanceof MethodNotAllowedError) res.setHeader("Allow", err.allow.join(", "));
  if (err instanceof UnauthorizedError) res.setHeader("WWW-Authenticate", 'Bearer realm="dmremap"');
  const body = JSON.stringify(problem);
  res.writeHead(problem.status, {
    "Content-Type": "application/problem+json",
    "Content-Length": Buffer.byteLength(body),
    "Cache-Control": "no-store",
  });
  res.end(body);
}
