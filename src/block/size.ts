// Parsing and formatting of byte sizes ("64M", "1G", "4096") and durations ("200ms", "5s").

const UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
  t: 1024 ** 4,
  p: 1024 ** 5,
};

/** Parse a byte size: digits with an optional K/M/G/T/P suffix (binary units, optional "iB"/"B"). */
export function parseSize(text: string): number {
  const match = /^(\d+)\s*([kmgtp]?)(?:i?b)?$/i.exec(text.trim());
  if (!match) throw new RangeError(`"${text}" is not a size (expected e.g. 4096, 64M, 1G)`);
  const value = Number(match[1]) * UNITS[match[2]!.toLowerCase()]!;
  if (!Number.isSafeInteger(value)) throw new RangeError(`size "${text}" is too large`);
  return value;
}

/** Format a byte count with the largest exact binary unit (65536 -> "64K", 1000 -> "1000"). */
export function formatSize(bytes: number): string {
  for (const [suffix, unit] of [
    ["T", 1024 ** 4],
    ["G", 1024 ** 3],
    ["M", 1024 ** 2],
    ["K", 1024],
  ] as const) {
    if (bytes >= unit && bytes % unit === 0) return `${bytes / unit}${suffix}`;
  }
  return String(bytes);
}

/** Parse a duration: a number with unit ms, s, m or h ("200ms", "5s"); a bare number is milliseconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/.exec(text.trim());
  if (!match) throw new RangeError(`"${text}" is not a duration (expected e.g. 200ms, 5s)`);
  const factor = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2] ?? "ms"]!;
  return Number(match[1]) * factor;
}
