// The control API's route table: method + path pattern -> handler, and the handlers, which only render
// ControlTarget views. Input is validated here (the edge); ControlTarget methods may assume valid blocks.

import type { IncomingMessage, ServerResponse } from "node:http";
import { FaultRuleError, normalizeFaultRule, type FaultRuleConfig } from "../block/fault-rules.js";
import { faultKinds } from "../block/faults/registry.js";
import { BadRequestError, BatchFailedError, NotFoundError } from "./errors.js";
import type { MetricsAdapter } from "./metrics-adapter.js";
import type { ServiceView } from "./service-runner.js";
import { checkBlock, checkQueryNames, parseBlocksBody, queryInteger, readJsonBody } from "./http-request.js";
import type { ControlTarget, FaultRuleView } from "./target.js";
import { FORMATS_ROUTES } from "./formats-routes.js";
import { SCAN_ROUTES } from "./scan-routes.js";
import { healthSummary } from "./health-services.js";
import { SPARE_ROUTES } from "./spare-routes.js";
import { REPLACE_ROUTES } from "./replace-routes.js";
import { WEB_ROUTES } from "./web-routes.js";

/** Paging bounds of GET /v1/targets/:name/remaps. */
export const REMAP_PAGE_DEFAULT = 100;
export const REMAP_PAGE_MAX = 10_000;

/** What a handler gets. */
export interface RouteContext {
  readonly req: IncomingMessage;
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  readonly targets: () => readonly ControlTarget[];
  readonly metrics?: MetricsAdapter;
  readonly services?: () => readonly ServiceView[];
}

/** A handler's answer: JSON (default) or raw text. */
export type RouteResult =
  | { readonly status?: number; readonly json: unknown }
  | { readonly status?: number; readonly text: string; readonly contentType: string }
  /** A Server-Sent Events stream: the server sends the headers, `stream` writes events until close. */
  | { readonly stream: (res: ServerResponse) => void };

/** One route: `pattern` segments starting with ":" capture a parameter. */
export interface Route {
  readonly method: "GET" | "POST" | "DELETE";
  readonly pattern: string;
  /** Changes state: needs the bearer token on TCP. */
  readonly mutating: boolean;
  readonly handle: (ctx: RouteContext) => Promise<RouteResult>;
}

function findTarget(ctx: RouteContext): ControlTarget {
  const name = ctx.params.name!;
  const target = ctx.targets().find((t) => t.name === name);
  if (!target) throw new NotFoundError(`no target named "${name}"`);
  return target;
}

function blockCount(target: ControlTarget): number {
  const status = target.status();
  return Math.floor(status.sizeBytes / status.blockSize);
}

function faultsOf(target: ControlTarget): NonNullable<ControlTarget["faults"]> {
  if (!target.faults) throw new NotFoundError(`fault injection not enabled for target ${target.name}`);
  return target.faults;
}

/** Apply `action` to each block in order; a failure reports the blocks already done. */
async function eachBlock(
  blocks: readonly number[],
  action: (block: number) => Promise<void>,
  name: string,
): Promise<RouteResult> {
  const done: number[] = [];
  for (const block of blocks) {
    try {
      await action(block);
    } catch (err) {
      throw new BatchFailedError(name, block, done, err);
    }
    done.push(block);
  }
  return { json: { action: name, blocks: done } };
}

async function blocksRequest(
  ctx: RouteContext,
  name: string,
  pick: (t: ControlTarget) => (b: number) => Promise<void>,
) {
  const target = findTarget(ctx);
  checkQueryNames(ctx.query, []);
  const blocks = parseBlocksBody(await readJsonBody(ctx.req), blockCount(target));
  return eachBlock(blocks, pick(target), name);
}

function summary(target: ControlTarget) {
  const s = target.status();
  return {
    name: target.name,
    exportName: target.exportName,
    state: s.state,
    ...(s.reason !== undefined ? { reason: s.reason } : {}),
    sizeBytes: s.sizeBytes,
    blockSize: s.blockSize,
    remappedBlocks: s.remappedBlocks,
    pendingBlocks: s.pendingBlocks,
    lostSectors: s.lostSectors,
    spare: s.spare,
  };
}

/** Validate a fault rule body against the fault-kind registry; a 400 names the bad field. */
function parseFaultRule(body: unknown): FaultRuleView {
  const kinds = faultKinds().map((k) => k.name);
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new BadRequestError(
      `request body must be a JSON object {"kind": ${kinds.join(" | ")}, ...options}`,
    );
  }
  try {
    normalizeFaultRule(body as FaultRuleConfig, Infinity, "json");
  } catch (err) {
    if (err instanceof FaultRuleError) throw new BadRequestError(err.message, { field: err.field });
    throw err;
  }
  return body as FaultRuleView;
}

/** Every route of the control API. */
export const ROUTES: readonly Route[] = [
  {
    method: "GET",
    pattern: "/healthz",
    mutating: false,
    handle: async (ctx) => {
      const targets = Object.fromEntries(ctx.targets().map((t) => [t.name, t.status().state]));
      return { json: { status: "ok", targets } };
    },
  },
  {
    method: "GET",
    pattern: "/metrics",
    mutating: false,
    handle: async (ctx) => {
      if (!ctx.metrics) throw new NotFoundError("metrics are not enabled");
      return { text: await ctx.metrics.render(), contentType: ctx.metrics.contentType };
    },
  },
  {
    method: "GET",
    pattern: "/v1/services",
    mutating: false,
    handle: async (ctx) => ({ json: ctx.services?.() ?? [] }),
  },
  {
    method: "GET",
    pattern: "/v1/targets",
    mutating: false,
    handle: async (ctx) => ({ json: ctx.targets().map(summary) }),
  },
  {
    method: "GET",
    pattern: "/v1/targets/:name",
    mutating: false,
    handle: async (ctx) => {
      const target = findTarget(ctx);
      return { json: { ...target.status(), ...healthSummary(target) } };
    },
  },
  {
    method: "GET",
    pattern: "/v1/targets/:name/remaps",
    mutating: false,
    handle: async (ctx) => {
      const target = findTarget(ctx);
      checkQueryNames(ctx.query, ["cursor", "limit"]);
      const limit = queryInteger(ctx.query, "limit", REMAP_PAGE_DEFAULT, 1, REMAP_PAGE_MAX);
      const cursor = ctx.query.has("cursor")
        ? queryInteger(ctx.query, "cursor", 0, 0, Number.MAX_SAFE_INTEGER)
        : undefined;
      return { json: target.list(cursor === undefined ? { limit } : { cursor, limit }) };
    },
  },
  {
    method: "POST",
    pattern: "/v1/targets/:name/remap",
    mutating: true,
    handle: (ctx) => blocksRequest(ctx, "remap", (t) => (b) => t.remapBlock(b)),
  },
  {
    method: "POST",
    pattern: "/v1/targets/:name/unremap",
    mutating: true,
    handle: (ctx) => blocksRequest(ctx, "unremap", (t) => (b) => t.unremapBlock(b)),
  },
  {
    method: "GET",
    pattern: "/v1/targets/:name/pending",
    mutating: false,
    handle: async (ctx) => ({ json: { blocks: findTarget(ctx).pendingBlocks() } }),
  },
  {
    method: "POST",
    pattern: "/v1/targets/:name/pending",
    mutating: true,
    handle: (ctx) => blocksRequest(ctx, "mark-pending", (t) => (b) => t.markPending(b)),
  },
  {
    method: "DELETE",
    pattern: "/v1/targets/:name/pending/:block",
    mutating: true,
    handle: async (ctx) => {
      const target = findTarget(ctx);
      const text = ctx.params.block!;
      const block = checkBlock(/^\d+$/.test(text) ? Number(text) : text, blockCount(target), "block");
      return eachBlock([block], (b) => target.clearPending(b), "clear-pending");
    },
  },
  {
    method: "GET",
    pattern: "/v1/targets/:name/metadata",
    mutating: false,
    handle: async (ctx) => ({ json: findTarget(ctx).status().metadata }),
  },
  {
    method: "GET",
    pattern: "/v1/targets/:name/faults",
    mutating: false,
    handle: async (ctx) => {
      const faults = faultsOf(findTarget(ctx));
      return { json: { rules: faults.list(), status: faults.status() } };
    },
  },
  {
    method: "POST",
    pattern: "/v1/targets/:name/faults",
    mutating: true,
    handle: async (ctx) => {
      const faults = faultsOf(findTarget(ctx));
      faults.add(parseFaultRule(await readJsonBody(ctx.req)));
      return { status: 201, json: { rules: faults.list() } };
    },
  },
  {
    method: "DELETE",
    pattern: "/v1/targets/:name/faults",
    mutating: true,
    handle: async (ctx) => {
      const faults = faultsOf(findTarget(ctx));
      faults.clear();
      return { json: { rules: faults.list() } };
    },
  },
  ...FORMATS_ROUTES,
  ...SCAN_ROUTES,
  ...SPARE_ROUTES,
  ...REPLACE_ROUTES,
  ...WEB_ROUTES,
];

/** Match a path against a pattern; returns the captured parameters or undefined. */
export function matchPattern(pattern: string, path: string): Record<string, string> | undefined {
  const want = pattern.split("/");
  const got = path.split("/");
  if (want.length !== got.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    if (want[i]!.startsWith(":")) {
      if (got[i] === "") return undefined;
      try {
        params[want[i]!.slice(1)] = decodeURIComponent(got[i]!);
      } catch {
        return undefined;
      }
    } else if (want[i] !== got[i]) return undefined;
  }
  return params;
}
