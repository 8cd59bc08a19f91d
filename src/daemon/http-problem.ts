// The one mapping from errors to HTTP responses: RFC 9457 problem details (application/problem+json).

import type { ServerResponse } from "node:http";
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

/** HTTP status and title for error codes raised below the API (block, remap, metadata layers). */
export const ERROR_CODE_STATUS: Readonly<Record<string, { status: number; title: string }>> = {
  EINVAL: { status: 400, title: "Invalid request" },
  ERANGE: { status: 400, title: "Out of range" },
  EROFS: { status: 409, title: "Device is read-only" },
  ENOSPC: { status: 507, title: "No spare space left" },
  ECLOSED: { status: 503, title: "Device is closed" },
  ENOTSUP: { status: 501, title: "Not supported" },
  EMEDIUM: { status: 500, title: "Medium error" },
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
  const code =
    typeof (err as { code?: unknown })?.code === "string" ? (err as { code: string }).code : "EINTERNAL";
  const slug = code.replace(/^E/, "").toLowerCase();
  if (err instanceof HttpError) {
    return {
      problem: {
        type: PROBLEM_TYPE_BASE + slug,
        title: err.title,
        status: err.status,
        detail: err.message,
        instance,
        code,
        ...err.extensions,
      },
      known: true,
    };
  }
  const mapped = ERROR_CODE_STATUS[code];
  if (mapped && err instanceof Error) {
    return {
      problem: { type: PROBLEM_TYPE_BASE + slug, ...mapped, detail: err.message, instance, code },
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
