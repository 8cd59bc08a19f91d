// The set record carried by every checkpoint: the main device's real identity (recorded at create,
// changed only by an explicit commit) and the last known spec of every spare, plus the check that
// refuses a main device that is not the recorded one.
import { type DeviceIdentity, identityMismatch, identityText } from "../block/device-identity.js";
import { IDENTITY_MAX_BYTES } from "./checkpoint-codec.js";
import { MainIdentityMismatchError, MetadataCapacityError } from "./errors.js";

/** What a checkpoint records besides the table (docs/FORMAT.md "Set record"). */
export interface SetRecord {
  /** Identity of the main device; absent for sets created before it was recorded. */
  readonly main?: DeviceIdentity;
  /** Last known spec (describe()) of each spare by index; null when never seen. */
  readonly spares: readonly (string | null)[];
  /** Indexes of spares being drained (src/spares/drain.ts): no new slot on them, across restarts. */
  readonly draining?: readonly number[];
}

/** Encode a set record: UTF-8 JSON (at most IDENTITY_MAX_BYTES bytes). */
export function encodeSetRecord(record: SetRecord): Uint8Array {
  const bytes = new Uint8Array(Buffer.from(JSON.stringify(record), "utf8"));
  if (bytes.length > IDENTITY_MAX_BYTES) {
    // Paths are informational: drop them before refusing the main identity.
    const shorter = new Uint8Array(Buffer.from(JSON.stringify({ ...record, spares: [] }), "utf8"));
    if (shorter.length > IDENTITY_MAX_BYTES)
      throw new MetadataCapacityError(
        `main identity record of ${shorter.length} bytes exceeds ${IDENTITY_MAX_BYTES}`,
      );
    return shorter;
  }
  return bytes;
}

/** Decode a set record; an empty or unreadable record reads as "nothing recorded". */
export function decodeSetRecord(bytes: Uint8Array): SetRecord {
  if (bytes.length === 0) return { spares: [] };
  try {
    const parsed = JSON.parse(Buffer.from(bytes).toString("utf8")) as Partial<SetRecord>;
    return {
      ...(parsed.main && typeof parsed.main === "object" ? { main: parsed.main } : {}),
      spares: Array.isArray(parsed.spares)
        ? parsed.spares.map((s) => (typeof s === "string" ? s : null))
        : [],
      ...(Array.isArray(parsed.draining) && parsed.draining.every((i) => Number.isInteger(i) && i >= 0)
        ? { draining: parsed.draining }
        : {}),
    };
  } catch {
    return { spares: [] };
  }
}

/**
 * Refuse a main device whose identity is not the recorded one, naming expected and found. A set
 * without a recorded identity accepts any main (its size was checked already).
 */
export function checkMainIdentity(
  expected: DeviceIdentity | undefined,
  found: DeviceIdentity,
  setText: string,
): void {
  if (!expected) return;
  const why = identityMismatch(expected, found);
  if (why) {
    throw new MainIdentityMismatchError(
      identityText(expected),
      identityText(found),
      `main device of ${setText} is not the recorded one (${why}): expected ${identityText(expected)}, found ${identityText(found)}; if the main was deliberately moved to this device, record the change`,
    );
  }
}
