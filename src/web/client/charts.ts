// The target page's charts (uPlot: canvas, fast with 10^5 points): remaps and errors over time,
// scanner rate, request latency p50 / p99, and the spare forecast with its P10–P90 band and threshold.
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import type { TargetDetail } from "../dashboard-types.js";

function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

function axes(yLabel: string, yValues?: (v: number) => string): uPlot.Axis[] {
  const stroke = cssVar("--fg-muted");
  const grid = { stroke: cssVar("--grid"), width: 1 };
  return [
    { stroke, grid, ticks: grid },
    {
      stroke,
      grid,
      ticks: grid,
      label: yLabel,
      size: 60,
      ...(yValues
        ? { values: (_u: uPlot, vals: number[]) => vals.map((v) => (v == null ? "" : yValues(v))) }
        : {}),
    },
  ];
}

/** A time-series line chart in `host`. */
export function lineChart(
  host: HTMLElement,
  title: string,
  series: { label: string; colour: string; dash?: number[] }[],
  yLabel: string,
  data: uPlot.AlignedData,
  yValues?: (v: number) => string,
): uPlot {
  const opts: uPlot.Options = {
    title,
    width: Math.max(280, host.clientWidth - 8),
    height: 200,
    scales: { x: { time: true } },
    series: [
      {},
      ...series.map((s) => ({
        label: s.label,
        stroke: s.colour,
        width: 2,
        spanGaps: false,
        ...(s.dash ? { dash: s.dash } : {}),
      })),
    ],
    axes: axes(yLabel, yValues),
    cursor: { drag: { x: true, y: false } },
  };
  return new uPlot(opts, data, host);
}

/** The forecast chart: remap history, projections to exhaustion at P10 / P50 / P90, the threshold. */
function forecastData(
  d: TargetDetail,
  nowS: number,
): { data: uPlot.AlignedData; band: [number, number, number] | null } {
  const total = d.row.spareTotalBlocks;
  const used = d.row.spareUsedBlocks;
  const eta = d.forecast?.etaSeconds;
  const xs = [...d.history.t];
  const hist: (number | null)[] = [...d.history.remaps];
  const p50: (number | null)[] = xs.map(() => null);
  const push = (x: number, h: number | null, p: number | null) => {
    xs.push(x);
    hist.push(h);
    p50.push(p);
  };
  push(nowS, used, used);
  let band: [number, number, number] | null = null;
  if (eta?.p50 != null) {
    push(nowS + eta.p50, null, total);
    if (eta.p10 != null && eta.p90 != null) {
      band = [nowS, nowS + eta.p10, nowS + eta.p90];
      // The x range reaches the P90 date so the whole band shows.
      if (eta.p90 > eta.p50) push(nowS + eta.p90, null, null);
    }
  } else push(nowS + 86_400, null, null);
  const threshold = xs.map(() => Math.round(total * (1 - d.spareAlertPercent / 100)));
  const totalLine = xs.map(() => total);
  return { data: [xs, hist, p50, threshold, totalLine], band };
}

/** Every chart of the target page. */
export class TargetCharts {
  private readonly charts: uPlot[] = [];
  private band: [number, number, number] | null = null;
  private bandUsed = 0;
  private bandTotal = 0;

  constructor(private readonly host: HTMLElement) {
    host.innerHTML = `<div class="charts">
      <figure id="chart-history" aria-label="remaps and errors over time"></figure>
      <figure id="chart-forecast" aria-label="spare forecast"></figure>
      <figure id="chart-rate" aria-label="scanner rate"></figure>
      <figure id="chart-latency" aria-label="request latency"></figure>
    </div>`;
  }

  /** Draw (first call) or update every chart. */
  update(d: TargetDetail): void {
    const nowS = Date.now() / 1000;
    const f = forecastData(d, nowS);
    this.band = f.band;
    this.bandUsed = d.row.spareUsedBlocks;
    this.bandTotal = d.row.spareTotalBlocks;
    const history: uPlot.AlignedData = [
      d.history.t as number[],
      d.history.remaps as number[],
      d.history.errors as number[],
    ];
    const rate: uPlot.AlignedData = [d.live.t as number[], d.live.scanBytesPerSecond.map((v) => v / 1048576)];
    const latency: uPlot.AlignedData = [
      d.live.t as number[],
      d.live.latencyP50Ms as (number | null)[],
      d.live.latencyP99Ms as (number | null)[],
    ];
    if (this.charts.length === 0) {
      const c = (id: string) => this.host.querySelector<HTMLElement>(id)!;
      this.charts.push(
        lineChart(
          c("#chart-history"),
          "Remaps and errors",
          [
            { label: "remaps", colour: cssVar("--map-remapped") },
            { label: "errors", colour: cssVar("--map-lost") },
          ],
          "count",
          history,
        ),
        this.forecastChart(c("#chart-forecast"), f.data),
        lineChart(
          c("#chart-rate"),
          "Scanner rate",
          [{ label: "MiB/s", colour: cssVar("--map-scanned") }],
          "MiB/s",
          rate,
        ),
        lineChart(
          c("#chart-latency"),
          "Request latency",
          [
            { label: "p50 ms", colour: cssVar("--accent") },
            { label: "p99 ms", colour: cssVar("--map-pending") },
          ],
          "ms",
          latency,
        ),
      );
      window.addEventListener("resize", () => {
        for (const chart of this.charts)
          chart.setSize({ width: Math.max(280, chart.root.parentElement!.clientWidth - 8), height: 200 });
      });
      return;
    }
    this.charts[0]!.setData(history);
    this.charts[1]!.setData(f.data);
    this.charts[2]!.setData(rate);
    this.charts[3]!.setData(latency);
  }

  private forecastChart(host: HTMLElement, data: uPlot.AlignedData): uPlot {
    const bandFill = cssVar("--band");
    const opts: uPlot.Options = {
      title: "Spare forecast (P50, P10–P90 band)",
      width: Math.max(280, host.clientWidth - 8),
      height: 200,
      scales: { x: { time: true } },
      series: [
        {},
        { label: "remapped (history)", stroke: cssVar("--map-remapped"), width: 2 },
        { label: "P50 projection", stroke: cssVar("--accent"), width: 2, dash: [6, 4], spanGaps: true },
        { label: "alert threshold", stroke: cssVar("--map-pending"), width: 1, dash: [2, 3] },
        { label: "spare slots", stroke: cssVar("--fg-muted"), width: 1 },
      ],
      axes: axes("blocks"),
      hooks: {
        // The P10–P90 band: from today's use to exhaustion between the P10 and P90 dates.
        drawSeries: [
          (u: uPlot, i: number) => {
            if (i !== 1 || !this.band) return;
            const [t0, t10, t90] = this.band;
            const ctx = u.ctx;
            const x = (v: number) => u.valToPos(v, "x", true);
            const y = (v: number) => u.valToPos(v, "y", true);
            ctx.save();
            const { left, top, width, height } = u.bbox;
            ctx.beginPath();
            ctx.rect(left, top, width, height);
            ctx.clip();
            ctx.fillStyle = bandFill;
            ctx.beginPath();
            ctx.moveTo(x(t0), y(this.bandUsed));
            ctx.lineTo(x(t10), y(this.bandTotal));
            ctx.lineTo(x(t90), y(this.bandTotal));
            ctx.closePath();
            ctx.fill();
            ctx.restore();
          },
        ],
      },
    };
    return new uPlot(opts, data, host);
  }
}

/** Let uPlot's batched drawing (a microtask) run, so a measure includes it. */
const drawn = () => new Promise((resolve) => setTimeout(resolve, 0));

/** Performance probe (bench/dashboard-bench.ts): a chart of `points` points, its build and redraw times. */
export async function chartProbe(
  host: HTMLElement,
  points: number,
): Promise<{ buildMs: number; setDataMs: number; cursorMs: number }> {
  const xs = new Array<number>(points);
  const ys = new Array<number>(points);
  const t0 = 1_700_000_000;
  let v = 0;
  for (let i = 0; i < points; i++) {
    xs[i] = t0 + i * 60;
    v += (i * 7919) % 13 === 0 ? 1 : 0;
    ys[i] = v;
  }
  let start = performance.now();
  const chart = lineChart(host, "probe", [{ label: "remaps", colour: "#36c" }], "count", [xs, ys]);
  await drawn();
  const buildMs = performance.now() - start;
  start = performance.now();
  chart.setData([xs, ys.map((y) => y + 1)]);
  await drawn();
  const setDataMs = performance.now() - start;
  start = performance.now();
  for (let i = 0; i < 20; i++) {
    chart.setCursor({ left: (i * chart.width) / 20, top: 50 });
    await drawn();
  }
  const cursorMs = (performance.now() - start) / 20;
  chart.destroy();
  return { buildMs, setDataMs, cursorMs };
}
