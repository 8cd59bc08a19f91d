// Control API routes of the dashboard (src/web): the built page and its assets under /ui, the overview
// and target views, the aggregated block map, the Server-Sent Events feed and alert acknowledgement.
// Read routes need no token; acknowledging is mutating like every other action. See docs/HTTP-API.md.
import type { RequestTimes } from "../core/request-times.js";
import type { ServerResponse } from "node:http";
import { AlertAcks } from "../web/alert-acks.js";
import { ASSET_TYPES, loadAsset } from "../web/assets.js";
import { buildBlockMap, MAX_CELLS, type BlockMapSource, type MappedRemap } from "../web/block-map.js";
import { LiveFeed, SYSTEM_FEED_TIMER } from "../web/live-feed.js";
import { LiveSampler } from "../web/live-sampler.js";
import type { ScanCoverage } from "../web/scan-coverage.js";
import { alertKeyOf, overviewRow, targetDetail, type DashboardTarget } from "../web/target-view.js";
import { NotFoundError } from "./errors.js";
import { healthOf } from "./health-services.js";
import { checkQueryNames, queryInteger } from "./http-request.js";
import type { Route, RouteContext } from "./http-routes.js";
import type { ControlTarget } from "./target.js";

/** Tick of the live feed. */
export const FEED_TICK_MS = 1000;
/** Cells of a block map when the query does not say. */
const DEFAULT_CELLS = 4096;
/** Page size when walking the remap table for a block map. */
const MAP_PAGE = 10_000;

const samplers = new WeakMap<ControlTarget, LiveSampler>();

function samplerOf(target: ControlTarget): LiveSampler {
  let s = samplers.get(target);
  if (!s) samplers.set(target, (s = new LiveSampler()));
  return s;
}

/** Client requests on `target` finished (their reads and writes feed the dashboard's latency chart). */
export function observeDashboardLatency(target: ControlTarget, times: RequestTimes): void {
  samplerOf(target).observeTimes(times);
}

/** The dashboard's view of a control target. */
function dashboardTarget(target: ControlTarget): DashboardTarget {
  const health = healthOf(target);
  return {
    name: target.name,
    status: () => target.status(),
    ...(health.scanner ? { scanner: health.scanner } : {}),
    ...(health.forecast ? { forecast: health.forecast } : {}),
    faultsEnabled: target.faults !== undefined,
    sampler: samplerOf(target),
  };
}

/** One feed and one set of acknowledgements per API server (keyed by its targets accessor). */
interface WebState {
  readonly feed: LiveFeed;
  readonly acks: AlertAcks;
}
const states = new WeakMap<RouteContext["targets"], WebState>();

function stateOf(ctx: RouteContext): WebState {
  let state = states.get(ctx.targets);
  if (!state) {
    const acks = new AlertAcks();
    const targets = ctx.targets;
    const feed = new LiveFeed({
      targets: () => targets().map(dashboardTarget),
      acks,
      tickMs: FEED_TICK_MS,
      timer: SYSTEM_FEED_TIMER,
    });
    states.set(ctx.targets, (state = { feed, acks }));
  }
  return state;
}

function findTarget(ctx: RouteContext): ControlTarget {
  const name = ctx.params.name!;
  const target = ctx.targets().find((t) => t.name === name);
  if (!target) throw new NotFoundError(`no target named "${name}"`);
  return target;
}

function* remapsIn(target: ControlTarget, fromBlock: number, toBlock: number): Generator<MappedRemap> {
  let cursor: number | undefined = fromBlock;
  while (cursor !== undefined) {
    const page = target.list({ cursor, limit: MAP_PAGE });
    for (const e of page.entries) {
      if (e.block >= toBlock) return;
      yield { block: e.block, lostSectors: e.lostSectors.length };
    }
    cursor = page.nextCursor;
  }
}

function mapSource(target: ControlTarget): BlockMapSource {
  const status = target.status();
  const blockCount = Math.floor(status.sizeBytes / status.blockSize);
  const scan = healthOf(target).scanner?.scanStatus();
  const coverage: ScanCoverage | undefined = scan && {
    state: scan.state,
    cursorBlock: scan.cursorBlock,
    scannedBlocks: scan.scannedBlocks,
    totalBlocks: scan.totalBlocks,
    lastPassComplete: scan.lastPass?.result === "complete",
    ...("geometry" in scan ? { geometry: scan.geometry as ScanCoverage["geometry"] } : {}),
  };
  return {
    blockCount,
    blockSize: status.blockSize,
    remapped: (from, to) => remapsIn(target, from, to),
    pending: (from, to) => target.pendingBlocks().filter((b) => b >= from && b < to),
    suspects: scan?.suspects ?? [],
    ...(coverage ? { scan: coverage } : {}),
  };
}

/** Start an SSE response and hand it to the feed. */
function openStream(feed: LiveFeed, res: ServerResponse, target: string | undefined): void {
  const unsubscribe = feed.subscribe(
    { write: (chunk) => void res.write(chunk), end: () => res.end() },
    target,
  );
  res.on("close", unsubscribe);
}

/** The dashboard routes (registered in http-routes.ts). */
export const WEB_ROUTES: readonly Route[] = [
  {
    method: "GET",
    pattern: "/ui",
    mutating: false,
    handle: async () => uiAsset("index.html"),
  },
  {
    method: "GET",
    pattern: "/ui/:file",
    mutating: false,
    handle: async (ctx) => uiAsset(ctx.params.file!),
  },
  {
    method: "GET",
    pattern: "/v1/dashboard",
    mutating: false,
    handle: async (ctx) => {
      checkQueryNames(ctx.query, []);
      const { acks } = stateOf(ctx);
      return { json: ctx.targets().map((t) => overviewRow(dashboardTarget(t), acks)) };
    },
  },
  {
    method: "GET",
    pattern: "/v1/dashboard/targets/:name",
    mutating: false,
    handle: async (ctx) => {
      checkQueryNames(ctx.query, []);
      return { json: targetDetail(dashboardTarget(findTarget(ctx)), stateOf(ctx).acks) };
    },
  },
  {
    method: "GET",
    pattern: "/v1/targets/:name/blockmap",
    mutating: false,
    handle: async (ctx) => {
      checkQueryNames(ctx.query, ["from", "to", "cells"]);
      const target = findTarget(ctx);
      const source = mapSource(target);
      const count = source.blockCount;
      const fromBlock = queryInteger(ctx.query, "from", 0, 0, Math.max(0, count - 1));
      const toBlock = queryInteger(ctx.query, "to", count, fromBlock + 1, count);
      const cells = queryInteger(ctx.query, "cells", DEFAULT_CELLS, 1, MAX_CELLS);
      return { json: buildBlockMap(source, { fromBlock, toBlock, cells }) };
    },
  },
  {
    method: "GET",
    pattern: "/v1/events",
    mutating: false,
    handle: async (ctx) => {
      checkQueryNames(ctx.query, ["target"]);
      const name = ctx.query.get("target") ?? undefined;
      if (name !== undefined && !ctx.targets().some((t) => t.name === name))
        throw new NotFoundError(`no target named "${name}"`);
      const { feed } = stateOf(ctx);
      return { stream: (res: ServerResponse) => openStream(feed, res, name) };
    },
  },
  {
    method: "POST",
    pattern: "/v1/targets/:name/alert/ack",
    mutating: true,
    handle: async (ctx) => {
      checkQueryNames(ctx.query, []);
      const target = dashboardTarget(findTarget(ctx));
      const key = alertKeyOf(target);
      stateOf(ctx).acks.acknowledge(target.name, key, Date.now());
      return { json: { action: "acknowledge", target: target.name, condition: key } };
    },
  },
];

async function uiAsset(name: string) {
  const asset = await loadAsset(name);
  if (!asset)
    throw new NotFoundError(
      Object.hasOwn(ASSET_TYPES, name)
        ? `dashboard asset ${name} is not built (run npm run build)`
        : `no dashboard asset named "${name}"`,
    );
  return { text: asset.text, contentType: asset.contentType };
}
