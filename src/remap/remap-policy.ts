// Error policy of the remap layer: when an error is real, how long to retry, when to warn.
// One schema (key, default, bounds, help) that CLI flags, config files and docs reuse.
import { SpecError } from "../block/errors.js";
import { SPARE_ALLOCATIONS, type SpareAllocation } from "./spare-pool.js";

/** Validated remap policy; every field has a default. */
export interface RemapPolicy {
  /** Extra attempts of a failed main write before the block is remapped. */
  readonly writeRetries: number;
  /** Least number of extra attempts of a failed main read; more are made while the budget lasts. */
  readonly readRetries: number;
  /** Time budget of read retries for one request, in milliseconds; retries back off across it. */
  readonly readRetryBudgetMs: number;
  /** Delay before the first retry of a failed read, in milliseconds (doubles, with jitter). */
  readonly retryFirstDelayMs: number;
  /** A main write still running after this many ms is abandoned, fenced and remapped (0: never). */
  readonly mainWriteTimeoutMs: number;
  /** Move a block to a spare when a read of it failed and then succeeded on retry (see below). */
  readonly migrateOnRecoveredRead: boolean;
  /** A recovered block migrates once it failed on this many distinct occasions within the window. */
  readonly migrateAfterFailedReads: number;
  /** Window of migrateAfterFailedReads, in milliseconds. */
  readonly migrateWindowMs: number;
  /** A recovered read that needed more than this many retries migrates its block at once. */
  readonly migrateAfterRetries: number;
  /** Blocks whose error history is kept in memory (least recently failed forgotten first). */
  readonly errorHistoryBlocks: number;
  /** A read of a pending block tries main once more; data that reads back clears the pending mark. */
  readonly retryPendingReads: boolean;
  /** Status raises the nearly-exhausted alert when at most this percentage of spare slots is free. */
  readonly spareAlertPercent: number;
  /** Spare a new slot comes from: fill-first, round-robin or least-used (spare-pool.ts). */
  readonly spareAllocation: SpareAllocation;
  /** A quarantined spare (write errors) that holds slots is drained by the daemon (src/spares/drain.ts). */
  readonly autoDrainQuarantined: boolean;
}

/** One policy field described as data. */
export interface PolicyField {
  readonly key: keyof RemapPolicy;
  readonly type: "integer" | "boolean" | "enum";
  readonly default: number | boolean | string;
  /** Allowed values of an enum. */
  readonly values?: readonly string[];
  readonly min?: number;
  readonly max?: number;
  readonly help: string;
}

/** The schema of RemapPolicy: defaults, bounds and help text. */
export const REMAP_POLICY_SCHEMA: readonly PolicyField[] = [
  {
    key: "writeRetries",
    type: "integer",
    default: 2,
    min: 0,
    max: 10,
    help: "extra attempts of a failed main write before remapping the block",
  },
  {
    key: "readRetries",
    type: "integer",
    default: 3,
    min: 0,
    max: 20,
    help: "least number of retries of a failed main read; more are made while read_retry_budget lasts",
  },
  {
    key: "readRetryBudgetMs",
    type: "integer",
    default: 5000,
    min: 0,
    max: 25000,
    help: "time budget of read retries per request (retries back off across it); a block is pending only once it is spent",
  },
  {
    key: "retryFirstDelayMs",
    type: "integer",
    default: 10,
    min: 0,
    max: 1000,
    help: "delay before the first retry of a failed read; each further delay doubles, with seeded jitter",
  },
  {
    key: "mainWriteTimeoutMs",
    type: "integer",
    default: 10000,
    min: 0,
    max: 25000,
    help: "a main write still running after this long is abandoned (its range stays fenced until it ends) and the block is remapped; 0 never; keep below the NBD request deadline",
  },
  {
    key: "migrateOnRecoveredRead",
    type: "boolean",
    default: true,
    help: "move a block to a spare when its read failed and then succeeded on retry, if the error looks real (see the next keys)",
  },
  {
    key: "migrateAfterFailedReads",
    type: "integer",
    default: 2,
    min: 1,
    max: 100,
    help: "a recovered block migrates once its reads failed on this many distinct occasions within migrate_window (1: every recovered read)",
  },
  {
    key: "migrateWindowMs",
    type: "integer",
    default: 86_400_000,
    min: 1000,
    max: 30 * 86_400_000,
    help: "window in which failed occasions of a block are counted",
  },
  {
    key: "migrateAfterRetries",
    type: "integer",
    default: 8,
    min: 0,
    max: 100,
    help: "a recovered read that needed more than this many retries migrates its block at once",
  },
  {
    key: "errorHistoryBlocks",
    type: "integer",
    default: 65536,
    min: 16,
    max: 10_000_000,
    help: "blocks whose read-error history is kept in memory (the least recently failed are forgotten first)",
  },
  {
    key: "retryPendingReads",
    type: "boolean",
    default: true,
    help: "a read of a pending block tries main once more; if the data reads back, the pending mark is cleared",
  },
  {
    key: "spareAlertPercent",
    type: "integer",
    default: 10,
    min: 0,
    max: 100,
    help: "raise the nearly-exhausted alert when at most this percentage of spare slots is free",
  },
  {
    key: "spareAllocation",
    type: "enum",
    default: "fill-first",
    values: SPARE_ALLOCATIONS,
    help: "spare a new slot comes from: the lowest-numbered one with room (fill-first), the next one in turn (round-robin), or the one with fewest used slots (least-used); quarantined or missing spares are skipped",
  },
  {
    key: "autoDrainQuarantined",
    type: "boolean",
    default: true,
    help: "a spare quarantined after write errors that still holds slots is drained to the other spares automatically (while they have room)",
  },
];

/** The policy with every default. */
export const DEFAULT_REMAP_POLICY: RemapPolicy = resolveRemapPolicy({});

/** Fill defaults and validate; throws SpecError naming the bad key and value. */
export function resolveRemapPolicy(input: Partial<Record<keyof RemapPolicy, unknown>>): RemapPolicy {
  const known = new Set<string>(REMAP_POLICY_SCHEMA.map((f) => f.key));
  for (const key of Object.keys(input)) {
    if (!known.has(key)) throw new SpecError(key, `unknown remap policy option "${key}"`);
  }
  const out: Record<string, number | boolean | string> = {};
  for (const field of REMAP_POLICY_SCHEMA) {
    const value = input[field.key] ?? field.default;
    if (field.type === "enum") {
      if (typeof value !== "string" || !field.values!.includes(value)) {
        throw new SpecError(
          String(value),
          `remap policy ${field.key} = ${String(value)} is not one of ${field.values!.join(", ")}`,
        );
      }
    } else if (field.type === "boolean") {
      if (typeof value !== "boolean") {
        throw new SpecError(String(value), `remap policy ${field.key} = ${String(value)} is not a boolean`);
      }
    } else if (
      typeof value !== "number" ||
      !Number.isInteger(value) ||
      value < field.min! ||
      value > field.max!
    ) {
      throw new SpecError(
        String(value),
        `remap policy ${field.key} = ${String(value)} is not an integer in ${field.min}..${field.max}`,
      );
    }
    out[field.key] = value;
  }
  return out as unknown as RemapPolicy;
}
