// Runs the daemon in the foreground until SIGINT/SIGTERM; SIGHUP re-reads the log level from the config.
import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { Daemon, type DaemonAddresses, type DaemonOptions } from "../daemon/daemon.js";
import { loadConfig, type DaemonConfig } from "../daemon/config.js";
import { createLogger, type Logger } from "../daemon/logger.js";
import { formatListenAddress } from "../daemon/listen-address.js";
import type { CommandContext } from "./command.js";
import { AddressInUseError } from "./errors.js";

/** Create the parent folders of Unix sockets so a fresh machine can start without preparation. */
async function prepareSocketDirs(config: DaemonConfig): Promise<void> {
  const paths = [...config.nbd.listen, config.api.listen].flatMap((a) => (a.kind === "unix" ? [a.path] : []));
  for (const p of paths) await mkdir(dirname(p), { recursive: true });
}

/** A listen that failed with EADDRINUSE, as a one-line hint naming the flag that moves it; else undefined. */
export function addressInUse(err: unknown, config: DaemonConfig): AddressInUseError | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const cause = (err as { cause?: NodeJS.ErrnoException } | undefined)?.cause;
  const failed =
    code === "EADDRINUSE" ? (err as NodeJS.ErrnoException) : cause?.code === "EADDRINUSE" ? cause : undefined;
  if (!failed) return undefined;
  const { address, port } = failed as { address?: string; port?: number };
  const api = config.api.listen;
  const isApi =
    api.kind === "unix"
      ? address === api.path
      : port === api.port && (address === undefined || address === api.host);
  const shown = isApi
    ? formatListenAddress(api)
    : port !== undefined
      ? `tcp:${address}:${port}`
      : `unix:${address}`;
  return new AddressInUseError(shown, isApi ? "api" : "nbd", { cause: err });
}

/** Start the daemon, call `onReady`, and run until a stop signal; returns the exit code. */
export async function runDaemon(
  ctx: CommandContext,
  config: DaemonConfig,
  options: Omit<DaemonOptions, "logger"> & { configPath?: string; logger?: Logger },
  onReady?: (addresses: DaemonAddresses) => void,
): Promise<number> {
  const logger =
    options.logger ??
    createLogger({
      level: process.env.DMREMAP_LOG_LEVEL === "debug" ? "debug" : config.daemon.logLevel,
      stream: ctx.err,
    });
  await prepareSocketDirs(config);
  const daemon = new Daemon(config, { ...options, logger });
  const onHup = async () => {
    if (!options.configPath) {
      logger.info("SIGHUP: no config file to reload");
      return;
    }
    try {
      const fresh = await loadConfig(options.configPath);
      logger.setLevel(fresh.daemon.logLevel);
      logger.lifecycle("SIGHUP: config re-read; log_level applied, other changes need a restart", {
        logLevel: fresh.daemon.logLevel,
      });
    } catch (err) {
      logger.error("SIGHUP: config not reloaded", { error: (err as Error).message });
    }
  };
  // Installed before start(): the "ready" line may prompt a SIGHUP at once, whose default action kills.
  process.on("SIGHUP", onHup);
  try {
    const addresses = await daemon.start().catch((err: unknown) => {
      throw addressInUse(err, config) ?? err;
    });
    onReady?.(addresses);
    const signal = await ctx.stopSignal;
    logger.lifecycle("stopping", { signal, boundMs: config.daemon.shutdownTimeoutMs });
    const report = await daemon.stop();
    return report.clean ? 0 : 1;
  } finally {
    process.off("SIGHUP", onHup);
  }
}
