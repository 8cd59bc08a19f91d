// Error policy of the remap layer: when an error is real, how long to retry, when to warn.
// One schema (key, default, bounds, help) that CLI flags, config files and docs reuse.
import { SpecError } from "../block/errors.js";

/** Validated remap policy; every field has a default. */
export interface RemapPolicy {
  /** Extra attempts of a failed main write before the block is remapped. */
  readonly writeRetries: number;
  /** Extra attempts of a failed main read before the block is marked pending. */
  readonly readRetries: number;
  /** Time budget of read retries for one request, in milliseconds. */
  readonly readRetryBudgetMs: number;
  /** Move a block to a spare when a read of it failed and then succeeded on retry. */
  readonly migrateOnRecoveredRead: boolean;
  /** How many failed attempts before a successful read make the block worth migrating. */
  readonly migrateAfterFailedReads: number;
  /** Status raises the nearly-exhausted alert when at most this percentage of spare slots is free. */
  readonly spareAlertPercent: number;
}

/** One policy field described as data. */
export interface PolicyField {
  readonly key: keyof RemapPolicy;
  readonly type: "integer" | "boolean";
  readonly default: number | boolean;
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
    help: "extra attempts of a failed main read before marking the block pending",
  },
  {
    key: "readRetryBudgetMs",
    type: "integer",
    default: 5000,
    min: 0,
    max: 25000,
    help: "time budget (ms) of read retries per request; keep well under the NBD client's 30 s timeout",
  },
  {
    key: "migrateOnRecoveredRead",
    type: "boolean",
    default: true,
    help: "move a block to a spare when its read failed and then succeeded on retry",
  },
  {
    key: "migrateAfterFailedReads",
    type: "integer",
    default: 1,
    min: 1,
    max: 20,
    help: "failed attempts before a successful read that make a block worth migrating (raise for flaky links)",
  },
  {
    key: "spareAlertPercent",
    type: "integer",
    default: 10,
    min: 0,
    max: 100,
    help: "raise the nearly-exhausted alert when at most this percentage of spare slots is free",
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
  const out: Record<string, number | boolean> = {};
  for (const field of REMAP_POLICY_SCHEMA) {
    const value = input[field.key] ?? field.default;
    if (field.type === "boolean") {
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
