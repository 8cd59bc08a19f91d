// Renders benchmark results as one Markdown table (pasteable into docs/PERFORMANCE.md).

/** One measured row: a workload on one server, with an optional ratio to a reference row. */
export interface ResultRow {
  readonly workload: string;
  readonly server: string;
  readonly mbPerS: number;
  readonly iops: number;
  readonly p50Us: number;
  readonly p99Us: number;
  /** Server CPU time (all threads) per request, when measured. */
  readonly cpuUsPerIo?: number;
  /** e.g. "0.93x nbdkit" */
  readonly ratio?: string;
}

function num(n: number, digits: number): string {
  return n.toFixed(digits);
}

/** Markdown table of `rows`, columns aligned. */
export function renderTable(rows: readonly ResultRow[]): string {
  const head = ["workload", "server", "MB/s", "IOPS", "p50 µs", "p99 µs", "CPU µs/IO", "ratio"];
  const body = rows.map((r) => [
    r.workload,
    r.server,
    num(r.mbPerS, 1),
    num(r.iops, 0),
    num(r.p50Us, 0),
    num(r.p99Us, 0),
    r.cpuUsPerIo === undefined ? "" : num(r.cpuUsPerIo, 1),
    r.ratio ?? "",
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const right = [false, false, true, true, true, true, true, false];
  const line = (cells: string[]) =>
    "| " + cells.map((c, i) => (right[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(" | ") + " |";
  const rule =
    "| " + widths.map((w, i) => (right[i] ? "-".repeat(w - 1) + ":" : "-".repeat(w))).join(" | ") + " |";
  return [line(head), rule, ...body.map(line)].join("\n");
}

/** Mean of the rounds of one workload on one server (latencies: mean of the per-round percentiles). */
export function meanRow(
  workload: string,
  server: string,
  rounds: readonly { mbPerS: number; iops: number; p50Us: number; p99Us: number; cpuUsPerIo?: number }[],
): ResultRow {
  const mean = (f: (r: (typeof rounds)[number]) => number) =>
    rounds.reduce((s, r) => s + f(r), 0) / rounds.length;
  return {
    workload,
    server,
    mbPerS: mean((r) => r.mbPerS),
    iops: mean((r) => r.iops),
    p50Us: mean((r) => r.p50Us),
    p99Us: mean((r) => r.p99Us),
    ...(rounds[0]?.cpuUsPerIo === undefined ? {} : { cpuUsPerIo: mean((r) => r.cpuUsPerIo ?? 0) }),
  };
}

/** "0.93x nbdkit" */
export function ratioText(value: number, reference: number, against: string): string {
  return `${(reference > 0 ? value / reference : 0).toFixed(2)}x ${against}`;
}
