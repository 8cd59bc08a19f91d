// Number, size, duration and time formatting of the dashboard (browser side).

/** Bytes with a binary unit, e.g. "16.0 TiB". */
export function bytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

/** A waiting time in seconds in words ("3.5 d", "12 h", "—" for none). */
export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return "—";
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172_800) return `${(seconds / 3600).toFixed(1)} h`;
  const d = seconds / 86_400;
  return d >= 10 ? `${Math.round(d)} d` : `${d.toFixed(1)} d`;
}

/** A point in time relative to now ("5 min ago"). */
export function ago(ms: number, now = Date.now()): string {
  const s = Math.max(0, (now - ms) / 1000);
  return s < 5 ? "just now" : `${duration(s)} ago`;
}

/** Integer with thousands separators. */
export function count(n: number): string {
  return n.toLocaleString("en-US");
}

/** Escape text for innerHTML. */
export function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
