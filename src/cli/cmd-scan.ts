// `dmremap scan start|pause|resume|stop|status [TARGET]` and `dmremap forecast [TARGET]`: the
// background scanner and the spare-exhaustion forecast of a running daemon (docs/HEALTH.md).
import type { ForecastStatus } from "../health/forecast.js";
import type { ScanStatus } from "../health/scanner.js";
import type { ApiClient } from "./api-client.js";
import { boolOpt, parseIntArg, stringOpt, type Command, type CommandContext } from "./command.js";
import { UsageError } from "./errors.js";
import { apiClient, ONLINE_OPTIONS, onlineTarget } from "./online.js";

const VERBS = ["start", "pause", "resume", "stop", "status"] as const;
type Verb = (typeof VERBS)[number];

function bytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

function duration(seconds: number | null): string {
  if (seconds === null) return "-";
  const d = Math.floor(seconds / 86_400);
  const h = Math.floor((seconds % 86_400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = Math.floor(seconds % 60);
  if (d > 0) return `${d}d${h}h`;
  if (h > 0) return `${h}h${m}m`;
  return m > 0 ? `${m}m${s}s` : `${s}s`;
}

/** One line of progress: bar, percentage, rate, ETA, errors found, suspects. */
export function progressLine(target: string, s: ScanStatus, width = 30): string {
  const ratio = s.totalBlocks > 0 ? s.scannedBlocks / s.totalBlocks : 1;
  const filled = Math.round(ratio * width);
  const bar = `[${"#".repeat(filled)}${".".repeat(width - filled)}]`;
  return (
    `${target} pass ${s.pass} ${s.state.padEnd(8)} ${bar} ${(100 * ratio).toFixed(1).padStart(5)} %  ` +
    `${bytes(s.bytesPerSecond)}/s  ETA ${duration(s.etaSeconds)}  errors ${s.errorsFound}  suspects ${s.suspectBlocks}`
  );
}

/** The scan status as text (several lines). */
export function renderScan(target: string, s: ScanStatus, f?: ForecastStatus): string {
  const lines = [progressLine(target, s)];
  lines.push(
    `  mode ${s.mode}, cursor block ${s.cursorBlock}, read ${bytes(s.bytesRead)} this pass` +
      (s.nextPassAt !== null ? `, next pass ${new Date(s.nextPassAt).toISOString()}` : ""),
  );
  const p = s.pacing;
  lines.push(
    `  pacing: queue depth ${p.queueDepth}, limit ${p.allowedBytesPerSecond === null ? "none" : `${bytes(p.allowedBytesPerSecond)}/s`}` +
      (p.foregroundP99Ms !== null ? `, foreground p99 ${p.foregroundP99Ms.toFixed(2)} ms` : "") +
      (p.baselineP99Ms !== null ? ` (baseline ${p.baselineP99Ms.toFixed(2)} ms)` : ""),
  );
  if (s.lastPass) {
    const l = s.lastPass;
    lines.push(
      `  last pass ${l.pass} ${l.result}: ${bytes(l.bytesRead)} in ${duration((l.endedAt - l.startedAt) / 1000)}, ${l.errorsFound} errors found`,
    );
  }
  for (const sus of s.suspects.slice(0, 10)) {
    lines.push(
      `  suspect blocks ${sus.firstBlock}+${sus.countBlocks}: ${sus.slowReads} slow reads (slowest ${sus.slowestMs} ms)${sus.recheckAt === null ? ", weak" : ""}`,
    );
  }
  if (f) lines.push(`  risk ${f.reason}`);
  return lines.join("\n") + "\n";
}

/** The forecast as text. */
export function renderForecast(target: string, f: ForecastStatus): string {
  const eta = f.spareExhaustionEtaSeconds;
  const days = (s: number | null) => (s === null ? "never" : `${(s / 86_400).toFixed(1)} d`);
  const lines = [`${target}: ${f.tier}`, `  ${f.reason}`];
  for (const r of f.rules.slice(1)) lines.push(`  also ${r.text}`);
  lines.push(
    eta
      ? `  spare exhaustion ETA: P10 ${days(eta.p10)}, P50 ${days(eta.p50)}, P90 ${days(eta.p90)}`
      : "  spare exhaustion ETA: no remap seen yet",
  );
  if (f.daysUntilAlert !== null)
    lines.push(`  spare alert threshold in ${f.daysUntilAlert.toFixed(1)} d (P50)`);
  lines.push(
    `  remap rate: ${f.remapRatePerDay.last7d.toFixed(2)}/d last 7 d, ${f.remapRatePerDay.last30d.toFixed(2)}/d last 30 d`,
  );
  if (f.smart) {
    lines.push(
      f.smart.error
        ? `  SMART ${f.smart.device}: ${f.smart.error}`
        : `  SMART ${f.smart.device}: ${f.smart.lastSample?.passed === false ? "FAILED" : "ok"}`,
    );
  }
  return lines.join("\n") + "\n";
}

/** Split `VERB [TARGET]`. */
function parseVerb(ctx: CommandContext): { verb: Verb; target?: string } {
  const [verb, target, extra] = ctx.positionals;
  if (!VERBS.includes(verb as Verb))
    throw new UsageError(
      `scan needs a verb: ${VERBS.join(", ")} (got ${verb === undefined ? "none" : `"${verb}"`})`,
    );
  if (extra !== undefined) throw new UsageError(`scan ${verb} takes at most one TARGET (got "${extra}")`);
  return { verb: verb as Verb, ...(target !== undefined ? { target } : {}) };
}

async function forecastOrUndefined(client: ApiClient, path: string): Promise<ForecastStatus | undefined> {
  try {
    return await client.call<ForecastStatus>("GET", `${path}/forecast`);
  } catch {
    return undefined;
  }
}

/** Redraw the progress line until the pass is no longer running or the user interrupts. */
async function follow(ctx: CommandContext, client: ApiClient, path: string, name: string, seconds: number) {
  let stopped = false;
  void ctx.stopSignal.then(() => (stopped = true));
  let s = await client.call<ScanStatus>("GET", `${path}/scan`);
  while (!stopped) {
    ctx.out.write(`\r\x1b[2K${progressLine(name, s)}`);
    if (s.state !== "scanning") break;
    await Promise.race([ctx.stopSignal, new Promise((r) => setTimeout(r, seconds * 1000))]);
    s = await client.call<ScanStatus>("GET", `${path}/scan`);
  }
  ctx.out.write("\n");
  return s;
}

export const scanCommand: Command = {
  name: "scan",
  summary: "background scan of main: start, pause, resume, stop, status (online)",
  args: "start|pause|resume|stop|status [TARGET]",
  options: {
    ...ONLINE_OPTIONS,
    json: { type: "boolean", help: "print the scan status as JSON" },
    watch: {
      type: "boolean",
      help: "follow progress until the pass ends or Ctrl-C (default on a terminal for start/resume)",
    },
    interval: {
      type: "string",
      value: "SECONDS",
      help: "refresh interval of the progress display",
      default: "1",
    },
  },
  details: `The scanner of a running daemon reads every block that is not remapped through the normal read
path: unreadable blocks become pending exactly as a client read would make them. It reads the
neighbourhood of every new error first, keeps foreground p99 latency within [target.scan]
latency_budget, and resumes where it stopped after a restart. Ctrl-C stops only the display.
JSON fields: state, pass, cursorBlock, scannedBlocks, totalBlocks, errorsFound, suspectBlocks,
bytesPerSecond, etaSeconds, and more (docs/HEALTH.md).
examples:
  dmremap scan start disk0
  dmremap scan status --json
  dmremap scan pause`,
  async run(ctx) {
    const { verb, target } = parseVerb(ctx);
    const client = apiClient(ctx);
    const name = await onlineTarget(client, target);
    const path = `/v1/targets/${encodeURIComponent(name)}`;
    const json = boolOpt(ctx, "json");
    const seconds = parseIntArg("--interval", stringOpt(ctx, "interval") ?? "1", 1, 3600);
    let status =
      verb === "status"
        ? await client.call<ScanStatus>("GET", `${path}/scan`)
        : await client.call<ScanStatus>("POST", `${path}/scan/${verb}`);
    const tty = (ctx.out as NodeJS.WriteStream).isTTY === true;
    const watch = boolOpt(ctx, "watch") || (!json && tty && (verb === "start" || verb === "resume"));
    if (watch && !json) status = await follow(ctx, client, path, name, seconds);
    const forecast = await forecastOrUndefined(client, path);
    if (json) {
      const brief = forecast ? { forecast: { tier: forecast.tier, reason: forecast.reason } } : {};
      ctx.out.write(JSON.stringify({ target: name, ...status, ...brief }, null, 2) + "\n");
    } else ctx.out.write(renderScan(name, status, forecast));
    return 0;
  },
};

export const forecastCommand: Command = {
  name: "forecast",
  summary: "risk tier, spare-exhaustion ETA (P10/P50/P90) and SMART of a target (online)",
  args: "[TARGET]",
  options: { ...ONLINE_OPTIONS, json: { type: "boolean", help: "print the forecast as JSON" } },
  details: `Tiers: healthy, watch, degrading, replace; the rule that decided the tier is shown (docs/HEALTH.md).
examples:
  dmremap forecast
  dmremap forecast disk0 --json`,
  async run(ctx) {
    if (ctx.positionals.length > 1)
      throw new UsageError(`forecast takes at most one TARGET (got "${ctx.positionals[1]}")`);
    const client = apiClient(ctx);
    const name = await onlineTarget(client, ctx.positionals[0]);
    const f = await client.call<ForecastStatus>("GET", `/v1/targets/${encodeURIComponent(name)}/forecast`);
    ctx.out.write(
      boolOpt(ctx, "json") ? JSON.stringify({ target: name, ...f }, null, 2) + "\n" : renderForecast(name, f),
    );
    return 0;
  },
};
