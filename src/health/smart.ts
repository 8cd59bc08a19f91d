// SMART / NVMe health ingestion: parse `smartctl -j -a DEV`, judge it against a per-device baseline
// (deltas, so a static old count does not alarm forever). Only exit-status bits 0-1 are fatal.
import { execFile } from "node:child_process";
import { SmartError } from "./errors.js";

/** ATA attributes read (raw values). */
export const ATA_ATTRIBUTES = {
  5: "reallocated",
  187: "reportedUncorrect",
  188: "commandTimeout",
  196: "reallocEvents",
  197: "pending",
  198: "offlineUncorrectable",
} as const;
type AtaKey = (typeof ATA_ATTRIBUTES)[keyof typeof ATA_ATTRIBUTES];

/** One SMART reading. */
export interface SmartSample {
  readonly at: number;
  readonly device: string;
  readonly protocol: string;
  readonly model: string | null;
  readonly serial: string | null;
  readonly exitStatus: number;
  /** Overall self-assessment; null when not reported. */
  readonly passed: boolean | null;
  readonly ata?: Partial<Record<AtaKey, number>>;
  readonly nvme?: {
    readonly availableSpare?: number;
    readonly availableSpareThreshold?: number;
    readonly mediaErrors?: number;
    readonly criticalWarning?: number;
    readonly percentageUsed?: number;
  };
}

interface SmartctlJson {
  smartctl?: { exit_status?: number; messages?: { string?: string; severity?: string }[] };
  device?: { name?: string; protocol?: string };
  model_name?: string;
  serial_number?: string;
  smart_status?: { passed?: boolean };
  ata_smart_attributes?: { table?: { id?: number; raw?: { value?: number; string?: string } }[] };
  nvme_smart_health_information_log?: Record<string, number | undefined>;
}

/** Parse smartctl's JSON; throws SmartError when exit bits 0-1 say the data is not there. */
export function parseSmartctl(text: string, device: string, at: number, exitCode?: number): SmartSample {
  let json: SmartctlJson;
  try {
    json = JSON.parse(text) as SmartctlJson;
  } catch (err) {
    throw new SmartError(device, "output is not JSON (smartmontools >= 7.0 is needed for -j)", {
      cause: err,
    });
  }
  const exitStatus = json.smartctl?.exit_status ?? exitCode ?? 0;
  if ((exitStatus & 3) !== 0) {
    const why =
      json.smartctl?.messages?.map((m) => m.string).join("; ") || "command line or device open failed";
    throw new SmartError(device, `exit status ${exitStatus}: ${why}`);
  }
  const sample: { -readonly [K in keyof SmartSample]: SmartSample[K] } = {
    at,
    device: json.device?.name ?? device,
    protocol: json.device?.protocol ?? "unknown",
    model: json.model_name ?? null,
    serial: json.serial_number ?? null,
    exitStatus,
    passed: typeof json.smart_status?.passed === "boolean" ? json.smart_status.passed : null,
  };
  const table = json.ata_smart_attributes?.table;
  if (table) {
    const ata: Partial<Record<AtaKey, number>> = {};
    for (const row of table) {
      const key = ATA_ATTRIBUTES[row.id as keyof typeof ATA_ATTRIBUTES];
      const raw = row.raw?.value;
      if (!key || typeof raw !== "number") continue;
      // 188 packs three 16-bit counters into its 48-bit raw value; the low one counts timeouts.
      ata[key] = row.id === 188 ? raw % 65536 : raw;
    }
    sample.ata = ata;
  }
  const log = json.nvme_smart_health_information_log;
  if (log) {
    sample.nvme = {
      ...(log.available_spare !== undefined ? { availableSpare: log.available_spare } : {}),
      ...(log.available_spare_threshold !== undefined
        ? { availableSpareThreshold: log.available_spare_threshold }
        : {}),
      ...(log.media_errors !== undefined ? { mediaErrors: log.media_errors } : {}),
      ...(log.critical_warning !== undefined ? { criticalWarning: log.critical_warning } : {}),
      ...(log.percentage_used !== undefined ? { percentageUsed: log.percentage_used } : {}),
    };
  }
  return sample;
}

/** Sentences for the risk rules, by tier. */
export interface SmartVerdict {
  readonly critical: readonly string[];
  readonly degrading: readonly string[];
  readonly watch: readonly string[];
}

/** A counter that grew this much since the baseline counts as degrading (less: watch). */
export const SMART_DEGRADING_DELTA = 10;

const ATA_NAMES: Record<AtaKey, string> = {
  reallocated: "ATA 5 Reallocated_Sector_Ct",
  reportedUncorrect: "ATA 187 Reported_Uncorrect",
  commandTimeout: "ATA 188 Command_Timeout",
  reallocEvents: "ATA 196 Reallocated_Event_Count",
  pending: "ATA 197 Current_Pending_Sector",
  offlineUncorrectable: "ATA 198 Offline_Uncorrectable",
};

/** Judge `sample` against the first sample of the same device (`baseline`). */
export function judgeSmart(sample: SmartSample, baseline: SmartSample): SmartVerdict {
  const critical: string[] = [];
  const degrading: string[] = [];
  const watch: string[] = [];
  if (sample.passed === false) critical.push("SMART overall-health self-assessment: FAILED");
  const n = sample.nvme;
  if (n?.criticalWarning)
    critical.push(`NVMe critical_warning = 0x${n.criticalWarning.toString(16).padStart(2, "0")}`);
  if (
    n?.availableSpare !== undefined &&
    n.availableSpareThreshold !== undefined &&
    n.availableSpare < n.availableSpareThreshold
  )
    critical.push(`NVMe available_spare ${n.availableSpare} % < threshold ${n.availableSpareThreshold} %`);
  if (n?.percentageUsed !== undefined && n.percentageUsed >= 100)
    critical.push(`NVMe percentage_used ${n.percentageUsed} %`);
  const grew = (name: string, now: number | undefined, then: number | undefined) => {
    if (now === undefined) return;
    const delta = now - (then ?? now);
    if (delta <= 0) return;
    const text = `${name} grew by ${delta} since the baseline (${then} -> ${now})`;
    (delta >= SMART_DEGRADING_DELTA ? degrading : watch).push(text);
  };
  for (const key of Object.values(ATA_ATTRIBUTES))
    grew(ATA_NAMES[key], sample.ata?.[key], baseline.ata?.[key]);
  grew("NVMe media_errors", n?.mediaErrors, baseline.nvme?.mediaErrors);
  return { critical, degrading, watch };
}

/** Runs `smartctl -j -a DEV`: resolves with stdout and the exit code (non-zero exits are data too). */
export type SmartRunner = (device: string) => Promise<{ stdout: string; code: number }>;

/** The real smartctl. */
export const runSmartctl: SmartRunner = (device) =>
  new Promise((resolve, reject) => {
    execFile("smartctl", ["-j", "-a", device], { timeout: 60_000, maxBuffer: 8 << 20 }, (err, stdout) => {
      if (err && typeof err.code !== "number") {
        reject(new SmartError(device, `cannot run smartctl: ${err.message}`, { cause: err }));
        return;
      }
      resolve({ stdout: String(stdout), code: err ? Number(err.code) : 0 });
    });
  });
