// The health services of a target (forecast, scanner) as per-target service factories, where their
// side records live, and the lookup the API routes and metrics use to reach them.
import type { RequestTimes } from "../core/request-times.js";
import { dirname, join } from "node:path";
import { systemClock, type Clock as HealthClock } from "../health/clock.js";
import { Forecast } from "../health/forecast.js";
import { Scanner, type ImportedSuspects } from "../health/scanner.js";
import { readSuspects, stateDir, suspectsPath, writeSuspects } from "../formats/suspects.js";
import { remapScanSource } from "../health/scan-source.js";
import { runSmartctl } from "../health/smart.js";
import { forecastSettings, scanSettings } from "./config-health.js";
import type { TargetServiceContext, TargetServiceFactory } from "./services.js";
import type { ControlTarget } from "./target.js";

/** The health services of one target, once started. */
export interface HealthHandles {
  forecast?: Forecast;
  scanner?: Scanner;
}

const handles = new WeakMap<ControlTarget, HealthHandles>();

/** The health services of `target` (empty when none run). */
export function healthOf(target: ControlTarget): HealthHandles {
  return handles.get(target) ?? {};
}

function entry(target: ControlTarget): HealthHandles {
  let h = handles.get(target);
  if (!h) handles.set(target, (h = {}));
  return h;
}

/** Client requests on `target` finished (their reads and writes feed the scanner's latency controller). */
export function observeForeground(target: ControlTarget, times: RequestTimes): void {
  handles.get(target)?.scanner?.observeForegroundTimes(times);
}

/**
 * Where a target's health records live: [daemon] data_dir; else next to the first spare when it is
 * a plain file; else /var/lib/dmremap (the systemd unit's StateDirectory).
 */
export function healthStateDir(ctx: Pick<TargetServiceContext, "dataDir" | "config">): string {
  if (ctx.dataDir) return ctx.dataDir;
  const spare = ctx.config.spares[0] ?? "";
  if (/^[./]/.test(spare) && !spare.startsWith("/dev/")) return dirname(spare);
  return "/var/lib/dmremap";
}

/** The clock of the health services: the daemon's now(), real sleeps. */
function clockOf(ctx: TargetServiceContext): HealthClock {
  return { now: () => ctx.clock.now(), sleep: systemClock.sleep };
}

/** Factory of the forecast service ([target.forecast] enabled = true). */
export const forecastService: TargetServiceFactory = (ctx) => {
  const config = ctx.config.forecast;
  if (!config?.enabled) return undefined;
  const settings = forecastSettings(config);
  // SMART is polled when main is a local disk.
  const main = ctx.config.main;
  const smartDevice = settings.smart === "auto" && main.startsWith("/dev/") ? main : undefined;
  const forecast = new Forecast({
    target: ctx.config.name,
    source: {
      status: () => ctx.stack.device.status(),
      subscribe: (listener) => ctx.stack.device.subscribe(listener),
    },
    settings,
    historyPath: join(healthStateDir(ctx), `${ctx.config.name}.events.jsonl`),
    clock: clockOf(ctx),
    log: ctx.logger,
    ...(smartDevice ? { smartDevice, smartRunner: runSmartctl } : {}),
  });
  entry(ctx.target).forecast = forecast;
  return forecast;
};

/**
 * The set's imported suspects (`dmremap import` of ddrescue `*` / `/` areas, the file the formats
 * routes write): the scanner reads them first and drops the blocks it has read.
 */
export function importedSuspectsOf(uuid: string, blockSize: number, dir = stateDir()): ImportedSuspects {
  // The path is computed per call: a bad UUID fails the read (logged by the scanner), not the service.
  const path = () => suspectsPath(dir, uuid);
  return {
    read: async () => readSuspects(path()),
    async done(blocks) {
      const read = new Set(blocks);
      const left = (await readSuspects(path())).filter((b) => !read.has(b));
      await writeSuspects(path(), uuid, blockSize, left);
    },
  };
}

/** Factory of the scanner service ([target.scan] enabled = true). */
export const scannerService: TargetServiceFactory = (ctx) => {
  const config = ctx.config.scan;
  if (!config?.enabled) return undefined;
  const h = entry(ctx.target);
  const { uuid, blockSize } = ctx.stack.device.status();
  const scanner = new Scanner({
    target: ctx.config.name,
    uuid,
    source: remapScanSource(ctx.stack.device),
    settings: scanSettings(config),
    statePath: join(healthStateDir(ctx), `${ctx.config.name}.scan.json`),
    clock: clockOf(ctx),
    log: ctx.logger,
    onFinding: (finding) => h.forecast?.recordFinding(finding),
    importedSuspects: importedSuspectsOf(uuid, blockSize),
  });
  h.scanner = scanner;
  return scanner;
};

/** The health part of a target's status (`health`), absent when no health service runs. */
export function healthSummary(target: ControlTarget): { health?: Record<string, unknown> } {
  const { scanner, forecast } = healthOf(target);
  if (!scanner && !forecast) return {};
  const f = forecast?.forecastStatus();
  const s = scanner?.scanStatus();
  return {
    health: {
      ...(f
        ? { tier: f.tier, reason: f.reason, spareExhaustionEtaSeconds: f.spareExhaustionEtaSeconds }
        : {}),
      ...(s
        ? {
            scan: {
              state: s.state,
              pass: s.pass,
              scannedBlocks: s.scannedBlocks,
              totalBlocks: s.totalBlocks,
              errorsFound: s.errorsFound,
              suspectBlocks: s.suspectBlocks,
            },
          }
        : {}),
    },
  };
}
