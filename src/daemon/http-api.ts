// The HTTP control API (node:http, no framework): routing, bearer-token check on TCP, problem details,
// listening on tcp:HOST:PORT or unix:PATH. Handlers live in http-routes.ts.

import { createHash, timingSafeEqual } from "node:crypto";
import { chmod, lstat, unlink } from "node:fs/promises";
import { type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http";
import { connect } from "node:net";
import type { AddressInfo } from "node:net";
import {
  AlreadyStartedError,
  ForbiddenError,
  ListenAddressError,
  MethodNotAllowedError,
  NotFoundError,
  UnauthorizedError,
} from "./errors.js";
import { problemFromError, sendProblem } from "./http-problem.js";
import { ROUTES, type RouteResult, matchPattern } from "./http-routes.js";
import { type ListenAddress, parseListenAddress } from "./listen-address.js";
import type { Logger } from "./logger.js";
import type { MetricsAdapter } from "./metrics-adapter.js";
import type { ServiceView } from "./service-runner.js";
import type { ControlTarget } from "./target.js";

/** How long stop() lets requests still running finish before it closes their connections. */
const STOP_GRACE_MS = 2000;

/** Options of createApiServer. */
export interface ApiServerOptions {
  /** The served targets, read on every request (so the set may change at runtime). */
  readonly targets: () => readonly ControlTarget[];
  /** Bearer token for mutating endpoints; required for them on TCP, ignored on a Unix socket. */
  readonly token?: string;
  /** Serves /metrics when present. */
  readonly metrics?: MetricsAdapter;
  /** The daemon's services and their live state (GET /v1/services). */
  readonly services?: () => readonly ServiceView[];
  readonly logger: Logger;
  /** Mode of a Unix socket file (default 0o660). */
  readonly socketMode?: number;
}

/** The control API service. */
export interface ApiServer {
  /** Listen; resolves with the bound address (the real port when 0 was asked for). */
  start(listen: string | ListenAddress): Promise<ListenAddress>;
  /** Stop accepting, finish in-flight requests, remove the socket file. */
  stop(): Promise<void>;
}

function sha256(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}

/** Decide whether a mutating request may proceed on this listener. */
function authorize(req: IncomingMessage, kind: ListenAddress["kind"], tokenHash: Buffer | undefined): void {
  if (kind === "unix") return;
  if (!tokenHash) {
    throw new ForbiddenError(
      "mutating endpoints are disabled on a TCP listener without a token (set api.token_file)",
    );
  }
  const header = req.headers.authorization;
  if (header === undefined) throw new UnauthorizedError("this endpoint needs an Authorization: Bearer token");
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  // Hashing first gives equal-length inputs, so the comparison time says nothing about the token.
  if (!match || !timingSafeEqual(sha256(match[1]!), tokenHash))
    throw new ForbiddenError("the bearer token is wrong");
}

function send(res: ServerResponse, result: RouteResult, streams: Set<ServerResponse>): void {
  if ("stream" in result) {
    res.writeHead(200, {
      "Content-Type": "text/event-stream",
      "Cache-Control": "no-store",
      Connection: "keep-alive",
    });
    streams.add(res);
    res.on("close", () => streams.delete(res));
    result.stream(res);
    return;
  }
  const isJson = "json" in result;
  const body = isJson ? JSON.stringify(result.json) : result.text;
  res.writeHead(result.status ?? 200, {
    "Content-Type": isJson ? "application/json" : result.contentType,
    "Content-Length": Buffer.byteLength(body),
    "Cache-Control": "no-store",
  });
  res.end(body);
}

/** Remove a Unix socket file left by a dead process; refuse if something is listening on it. */
async function removeStaleSocket(path: string): Promise<void> {
  const stat = await lstat(path).catch(() => undefined);
  if (!stat) return;
  const where = `unix:${path}`;
  if (!stat.isSocket()) throw new ListenAddressError(where, `${path} exists and is not a socket`);
  const alive = await new Promise<boolean>((resolve) => {
    const socket = connect(path);
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
  if (alive) throw new ListenAddressError(where, `${path}: another process is listening on this socket`);
  await unlink(path);
}

/** Create the control API server (not yet listening). */
export function createApiServer(options: ApiServerOptions): ApiServer {
  const { logger, metrics } = options;
  const tokenHash = options.token ? sha256(options.token) : undefined;
  let server: Server | undefined;
  let bound: ListenAddress | undefined;
  // Open event streams: ended on stop(), which would otherwise wait for them forever.
  const streams = new Set<ServerResponse>();

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const startedNs = process.hrtime.bigint();
    const url = new URL(req.url ?? "/", "http://localhost");
    const path = url.pathname.length > 1 ? url.pathname.replace(/\/+$/, "") : url.pathname;
    try {
      const candidates = ROUTES.filter((r) => matchPattern(r.pattern, path) !== undefined);
      if (candidates.length === 0) throw new NotFoundError(`no such endpoint: ${path}`);
      const route = candidates.find((r) => r.method === req.method);
      if (!route)
        throw new MethodNotAllowedError(
          req.method ?? "?",
          path,
          candidates.map((r) => r.method),
        );
      const params = matchPattern(route.pattern, path)!;
      if (route.mutating) authorize(req, bound!.kind, tokenHash);
      const result = await route.handle({
        req,
        params,
        query: url.searchParams,
        targets: options.targets,
        ...(options.services ? { services: options.services } : {}),
        metrics,
      });
      send(res, result, streams);
      // A stream opened while stop() runs would hold the close up forever: end it at once.
      if (!server && "stream" in result) res.end();
    } catch (err) {
      const { problem, known } = problemFromError(err, url.pathname);
      if (!known) logger.error("API request failed", { method: req.method, path, err });
      if (res.headersSent) res.destroy();
      else sendProblem(res, problem, err);
    }
    const ms = Number(process.hrtime.bigint() - startedNs) / 1e6;
    logger.debug("API request", { method: req.method, path, status: res.statusCode, ms });
  }

  return {
    async start(listen) {
      if (server) throw new AlreadyStartedError("API server");
      const address = typeof listen === "string" ? parseListenAddress(listen) : listen;
      if (address.kind === "unix") await removeStaleSocket(address.path);
      const s = createServer((req, res) => void handle(req, res));
      s.requestTimeout = 30_000;
      s.headersTimeout = 10_000;
      await new Promise<void>((resolve, reject) => {
        s.once("error", reject);
        if (address.kind === "unix") s.listen(address.path, resolve);
        else s.listen(address.port, address.host, resolve);
      });
      s.on("error", (err) => logger.error("API server error", { err }));
      server = s;
      if (address.kind === "unix") {
        await chmod(address.path, options.socketMode ?? 0o660);
        bound = address;
      } else {
        bound = { kind: "tcp", host: address.host, port: (s.address() as AddressInfo).port };
      }
      logger.info("API listening", { listen: bound });
      return bound;
    },

    async stop() {
      const s = server;
      if (!s) return;
      server = undefined;
      for (const res of streams) res.end();
      await new Promise<void>((resolve) => {
        s.close(() => resolve());
        s.closeIdleConnections();
        // A request still running after a grace period does not hold the stop up for ever.
        setTimeout(() => s.closeAllConnections(), STOP_GRACE_MS).unref();
      });
      if (bound?.kind === "unix") await unlink(bound.path).catch(() => undefined);
      logger.info("API stopped");
    },
  };
}
