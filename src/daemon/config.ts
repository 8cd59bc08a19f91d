// Loading the daemon configuration: TOML text -> schema validation -> cross-key checks -> typed DaemonConfig.
// Durations are in milliseconds; listen addresses are parsed; every optional key has its default applied.

import type { ForecastConfig, ScanConfig } from "./config-health.js";
import { readFile } from "node:fs/promises";
import { parse, TomlError } from "smol-toml";
import { faultConfigIssues, type FaultsConfig } from "./config-faults.js";
import type { RemapPolicy } from "../remap/remap-policy.js";
import { CONFIG_SCHEMA } from "./config-schema.js";
import { ConfigError, type ConfigIssue } from "./errors.js";
import type { AlertsConfig } from "./alerts.js";
import { type ListenAddress, formatListenAddress, isLocalAddress } from "./listen-address.js";
import type { LogLevel } from "./logger.js";
import { formatDuration, validateTable } from "./schema-validate.js";

/** [target.policy]: reactions to I/O errors; exactly the remap policy (its schema is the config's). */
export type PolicyConfig = RemapPolicy;

export type { FaultsConfig } from "./config-faults.js";

/** One [[target]]. */
export interface TargetConfig {
  readonly name: string;
  readonly exportName: string;
  readonly main: string;
  readonly spares: readonly string[];
  readonly blockSize: number;
  readonly create: boolean;
  readonly policy: PolicyConfig;
  /** Present only when [target.faults] has enabled = true. */
  readonly faults?: FaultsConfig;
  /** [target.scan] (defaults filled in; absent only in hand-built configs). */
  readonly scan?: ScanConfig;
  /** [target.forecast] (defaults filled in; absent only in hand-built configs). */
  readonly forecast?: ForecastConfig;
}

/** [nbd]. */
export interface NbdConfig {
  readonly listen: readonly ListenAddress[];
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly tlsPskFile?: string;
  readonly allowInsecure: boolean;
  readonly requestDeadlineMs: number;
  readonly maxInFlight: number;
}

/** The whole validated configuration. */
export interface DaemonConfig {
  readonly daemon: {
    readonly dataDir?: string;
    readonly logLevel: LogLevel;
    readonly shutdownTimeoutMs: number;
  };
  readonly api: {
    readonly listen: ListenAddress;
    readonly tokenFile?: string;
    readonly allowInsecure: boolean;
  };
  readonly metrics: { readonly enabled: boolean; readonly processMetrics: boolean };
  /** Present when the file has an [alerts] table. */
  readonly alerts?: AlertsConfig;
  readonly nbd: NbdConfig;
  readonly targets: readonly TargetConfig[];
}

/** Checks that span several keys: unique names, TLS pairs, retry budget vs. deadline. */
function crossChecks(config: DaemonConfig, issues: ConfigIssue[]): void {
  const names = new Map<string, number>();
  const exports = new Map<string, number>();
  config.targets.forEach((target, i) => {
    const seenName = names.get(target.name);
    if (target.name !== undefined && seenName !== undefined) {
      issues.push({
        keyPath: `target[${i}].name`,
        message: `"${target.name}" is already used by target[${seenName}]`,
      });
    } else names.set(target.name, i);
    const seenExport = exports.get(target.exportName);
    if (target.exportName !== undefined && seenExport !== undefined) {
      issues.push({
        keyPath: `target[${i}].export`,
        message: `export name "${target.exportName}" is already used by target[${seenExport}]`,
      });
    } else exports.set(target.exportName, i);
    if (target.faults)
      issues.push(...faultConfigIssues(target.faults, target.blockSize, `target[${i}].faults`));
    const budget = target.policy?.readRetryBudgetMs;
    if (
      budget !== undefined &&
      config.nbd.requestDeadlineMs !== undefined &&
      budget > config.nbd.requestDeadlineMs
    ) {
      issues.push({
        keyPath: `target[${i}].policy.read_retry_budget`,
        message: `${formatDuration(budget)} is above nbd.request_deadline ${formatDuration(config.nbd.requestDeadlineMs)}`,
      });
    }
  });
  const nbd = config.nbd;
  if ((nbd.tlsCert === undefined) !== (nbd.tlsKey === undefined)) {
    const [has, lacks] = nbd.tlsCert === undefined ? ["tls_key", "tls_cert"] : ["tls_cert", "tls_key"];
    issues.push({ keyPath: `nbd.${lacks}`, message: `required when nbd.${has} is set` });
  }
  if (nbd.tlsPskFile !== undefined && nbd.tlsCert !== undefined) {
    issues.push({
      keyPath: "nbd.tls_psk_file",
      message: "use either tls_psk_file or tls_cert/tls_key, not both",
    });
  }
  const api = config.api;
  if (api?.listen && !api.allowInsecure && !isLocalAddress(api.listen)) {
    issues.push({
      keyPath: "api.listen",
      message: `"${formatListenAddress(api.listen)}" is reachable from other machines, and the API has no TLS: its bearer token and every answer would travel in clear (listen on loopback or a Unix socket and forward it over SSH or a TLS proxy, or set api.allow_insecure = true)`,
    });
  }
  const tls = nbd.tlsPskFile !== undefined || nbd.tlsCert !== undefined;
  (nbd.listen ?? []).forEach((address, i) => {
    if (!tls && !nbd.allowInsecure && !isLocalAddress(address)) {
      issues.push({
        keyPath: `nbd.listen[${i}]`,
        message: `"${formatListenAddress(address)}" is reachable from other machines without TLS (set tls_cert/tls_key or tls_psk_file, or allow_insecure = true)`,
      });
    }
  });
}

/** Drop a faults table that is present but not enabled, so `faults` means "build the fault layer". */
function normaliseFaults(targets: readonly Record<string, unknown>[]): void {
  for (const target of targets) {
    const faults = target.faults as { enabled?: boolean } | undefined;
    if (faults && faults.enabled !== true) delete target.faults;
  }
}

/** Parse and validate configuration text; `fileName` prefixes every error message. Throws ConfigError. */
export function parseConfig(text: string, fileName: string): DaemonConfig {
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (err) {
    if (err instanceof TomlError) {
      const what = err.message.split("\n")[0]!.replace(/^Invalid TOML document: /, "");
      throw new ConfigError(
        fileName,
        [{ keyPath: "", message: `line ${err.line}, column ${err.column}: ${what}` }],
        {
          cause: err,
        },
      );
    }
    throw err;
  }
  const issues: ConfigIssue[] = [];
  const parsed = validateTable(CONFIG_SCHEMA, raw, "", issues);
  normaliseFaults((parsed.targets as Record<string, unknown>[] | undefined) ?? []);
  const config = parsed as unknown as DaemonConfig;
  crossChecks(config, issues);
  if (issues.length > 0) throw new ConfigError(fileName, issues);
  return config;
}

/** Read and parse a configuration file; errors name the file by `path`. Throws ConfigError. */
export async function loadConfig(path: string): Promise<DaemonConfig> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new ConfigError(path, [{ keyPath: "", message: `cannot read ${path}: ${reason}` }], { cause: err });
  }
  return parseConfig(text, path);
}
