// Control API routes of the health services: the scan (status and start / pause / resume / stop)
// and the forecast (ETA, risk tier, SMART) of a target. See docs/HEALTH.md and docs/HTTP-API.md.
import type { Forecast } from "../health/forecast.js";
import type { Scanner } from "../health/scanner.js";
import { NotFoundError } from "./errors.js";
import { healthOf } from "./health-services.js";
import { checkQueryNames, queryInteger } from "./http-request.js";
import type { Route, RouteContext } from "./http-routes.js";
import type { ControlTarget } from "./target.js";

/** Scan verbs of POST /v1/targets/:name/scan/:action. */
export const SCAN_ACTIONS = ["start", "pause", "resume", "stop"] as const;

function findTarget(ctx: RouteContext): ControlTarget {
  const name = ctx.params.name!;
  const target = ctx.targets().find((t) => t.name === name);
  if (!target) throw new NotFoundError(`no target named "${name}"`);
  return target;
}

function scannerOf(ctx: RouteContext): Scanner {
  const target = findTarget(ctx);
  const scanner = healthOf(target).scanner;
  if (!scanner)
    throw new NotFoundError(`the scanner is not enabled for target ${target.name} ([target.scan] enabled)`);
  return scanner;
}

function forecastOf(ctx: RouteContext): Forecast {
  const target = findTarget(ctx);
  const forecast = healthOf(target).forecast;
  if (!forecast)
    throw new NotFoundError(
      `the forecast is not enabled for target ${target.name} ([target.forecast] enabled)`,
    );
  return forecast;
}

/** The health routes (registered in http-routes.ts). */
export const SCAN_ROUTES: readonly Route[] = [
  {
    method: "GET",
    pattern: "/v1/targets/:name/scan",
    mutating: false,
    handle: async (ctx) => {
      checkQueryNames(ctx.query, []);
      return { json: scannerOf(ctx).scanStatus() };
    },
  },
  {
    method: "POST",
    pattern: "/v1/targets/:name/scan/:action",
    mutating: true,
    handle: async (ctx) => {
      checkQueryNames(ctx.query, []);
      const action = ctx.params.action!;
      const scanner = scannerOf(ctx);
      switch (action) {
        case "start":
          return { json: await scanner.startPass() };
        case "pause":
          return { json: await scanner.pause() };
        case "resume":
          return { json: await scanner.resume() };
        case "stop":
          return { json: await scanner.stopPass() };
        default:
          throw new NotFoundError(`no scan action "${action}" (one of ${SCAN_ACTIONS.join(", ")})`);
      }
    },
  },
  {
    method: "GET",
    pattern: "/v1/targets/:name/forecast",
    mutating: false,
    handle: async (ctx) => {
      checkQueryNames(ctx.query, []);
      return { json: forecastOf(ctx).forecastStatus() };
    },
  },
  {
    method: "GET",
    pattern: "/v1/targets/:name/forecast/events",
    mutating: false,
    handle: async (ctx) => {
      checkQueryNames(ctx.query, ["limit"]);
      const limit = queryInteger(ctx.query, "limit", 100, 1, 100_000);
      return { json: { events: forecastOf(ctx).events().slice(-limit) } };
    },
  },
];
