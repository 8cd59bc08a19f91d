// The block map: the LBA range as a grid drawn on a canvas, each cell an aggregate of blocks from GET
// /v1/targets/NAME/blockmap. Click or Enter zooms into a cell (down to single blocks), hover or arrow
// keys show the cell's blocks and byte range; a text list of the notable cells mirrors it for readers.
import type { BlockMap, CellCounts } from "../dashboard-types.js";
import { get, seg } from "./api.js";
import { bytes, count, esc } from "./format.js";

/** Cell colours by kind, read from CSS variables so both themes apply. */
const KINDS = ["lost", "pending", "remapped", "suspect", "scanned", "unscanned"] as const;
type Kind = (typeof KINDS)[number];

interface Cell {
  remapped: number;
  pending: number;
  lost: number;
  suspect: number;
  scanned: number;
}

function lookup(counts: CellCounts): Map<number, number> {
  return new Map(counts.map(([c, n]) => [c, n]));
}

/** The block map of one target. */
export class BlockMapView {
  private map: BlockMap | undefined;
  private cells = new Map<number, Cell>();
  private range: { from: number; to: number };
  private readonly zoomStack: { from: number; to: number }[] = [];
  private focus = 0;
  private loading: Promise<void> | undefined;
  private again = false;
  private readonly canvas: HTMLCanvasElement;
  private readonly tip: HTMLElement;
  private readonly info: HTMLElement;
  private readonly list: HTMLElement;
  /** Milliseconds the last fetch + draw took (shown for the performance figure). */
  lastRenderMs = 0;

  constructor(
    private readonly root: HTMLElement,
    private readonly target: string,
    private readonly blockCount: number,
  ) {
    this.range = { from: 0, to: blockCount };
    root.innerHTML = `
      <div class="map-bar">
        <button type="button" id="zoom-out" disabled>Zoom out</button>
        <button type="button" id="zoom-all" disabled>Whole device</button>
        <span id="map-range" role="status" aria-live="polite"></span>
      </div>
      <div class="map-wrap">
        <canvas id="block-map" tabindex="0" role="img" aria-describedby="map-help map-info"></canvas>
        <div id="map-tip" class="tip" hidden></div>
      </div>
      <p id="map-help" class="hint">Click a cell or press Enter to zoom in; arrow keys move, Escape zooms out.</p>
      <ul class="legend" aria-label="legend">${KINDS.map((k) => `<li><span class="swatch k-${k}"></span>${k === "unscanned" ? "not yet scanned" : k}</li>`).join("")}</ul>
      <p id="map-info" aria-live="polite"></p>
      <details><summary>Notable cells (text)</summary><ul id="map-cells"></ul></details>`;
    this.canvas = root.querySelector("#block-map")!;
    this.tip = root.querySelector("#map-tip")!;
    this.info = root.querySelector("#map-info")!;
    this.list = root.querySelector("#map-cells")!;
    root.querySelector("#zoom-out")!.addEventListener("click", () => this.zoomOut());
    root
      .querySelector("#zoom-all")!
      .addEventListener("click", () => this.zoomTo({ from: 0, to: blockCount }, true));
    this.canvas.addEventListener("mousemove", (e) => this.hover(e));
    this.canvas.addEventListener("mouseleave", () => (this.tip.hidden = true));
    this.canvas.addEventListener("click", (e) => {
      const cell = this.cellAt(e);
      if (cell !== undefined) this.zoomInto(cell);
    });
    this.canvas.addEventListener("keydown", (e) => this.key(e));
    window.addEventListener("resize", () => this.refresh());
  }

  /** Grid geometry for the current width: columns and cell size in CSS pixels. */
  private grid(): { cols: number; rows: number; px: number } {
    const width = Math.max(200, this.root.clientWidth || 600);
    const px = width < 500 ? 8 : 10;
    const cols = Math.floor(width / px);
    return { cols, rows: Math.max(8, Math.min(48, Math.floor(3000 / cols) + 8)), px };
  }

  /** Fetch the map of the current range again (coalesces calls while one is in flight). */
  refresh(): Promise<void> {
    if (this.loading) {
      this.again = true;
      return this.loading;
    }
    this.loading = this.load().finally(() => {
      this.loading = undefined;
      if (this.again) {
        this.again = false;
        void this.refresh();
      }
    });
    return this.loading;
  }

  private async load(): Promise<void> {
    const started = performance.now();
    const { cols, rows } = this.grid();
    const q = `from=${this.range.from}&to=${this.range.to}&cells=${cols * rows}`;
    const map = await get<BlockMap>(`/v1/targets/${seg(this.target)}/blockmap?${q}`);
    this.map = map;
    const r = lookup(map.remapped);
    const p = lookup(map.pending);
    const l = lookup(map.lost);
    const s = lookup(map.suspect);
    const cells = new Map<number, Cell>();
    const cell = (i: number) => {
      let c = cells.get(i);
      if (!c) cells.set(i, (c = { remapped: 0, pending: 0, lost: 0, suspect: 0, scanned: 0 }));
      return c;
    };
    for (const [i, n] of r) cell(i).remapped = n;
    for (const [i, n] of p) cell(i).pending = n;
    for (const [i, n] of l) cell(i).lost = n;
    for (const [i, n] of s) cell(i).suspect = n;
    this.cells = cells;
    this.draw();
    this.lastRenderMs = performance.now() - started;
    this.canvas.dataset.renderMs = this.lastRenderMs.toFixed(1);
  }

  private kindOf(i: number): { kind: Kind; scanned: number } {
    const c = this.cells.get(i);
    const scanned = this.scannedFraction(i);
    if (c?.lost) return { kind: "lost", scanned };
    if (c?.pending) return { kind: "pending", scanned };
    if (c?.remapped) return { kind: "remapped", scanned };
    if (c?.suspect) return { kind: "suspect", scanned };
    return { kind: scanned > 0 ? "scanned" : "unscanned", scanned };
  }

  private scannedFraction(i: number): number {
    for (const [a, b, f] of this.map?.scanned ?? []) if (i >= a && i < b) return f;
    return 0;
  }

  private draw(): void {
    const map = this.map;
    if (!map) return;
    const { cols, px } = this.grid();
    const rows = Math.ceil(map.cellCount / cols);
    const dpr = window.devicePixelRatio || 1;
    this.canvas.width = cols * px * dpr;
    this.canvas.height = rows * px * dpr;
    this.canvas.style.width = `${cols * px}px`;
    this.canvas.style.height = `${rows * px}px`;
    this.canvas.dataset.cols = String(cols);
    this.canvas.dataset.cellPx = String(px);
    const ctx = this.canvas.getContext("2d")!;
    ctx.scale(dpr, dpr);
    const css = getComputedStyle(document.documentElement);
    const colour = Object.fromEntries(
      KINDS.map((k) => [k, css.getPropertyValue(`--map-${k}`).trim()]),
    ) as Record<Kind, string>;
    // Background in the "not yet scanned" colour, then scanned runs, then the sparse marked cells.
    ctx.clearRect(0, 0, cols * px, rows * px);
    ctx.fillStyle = colour.unscanned;
    const fullRows = Math.floor(map.cellCount / cols);
    ctx.fillRect(0, 0, cols * px, fullRows * px);
    ctx.fillRect(0, fullRows * px, (map.cellCount % cols) * px, px);
    const gap = px > 6 ? 1 : 0;
    const fill = (i: number, style: string) => {
      ctx.fillStyle = style;
      ctx.fillRect((i % cols) * px, Math.floor(i / cols) * px, px - gap, px - gap);
    };
    // A partly scanned cell is filled from the bottom by its scanned share.
    ctx.fillStyle = colour.scanned;
    for (const [a, b, f] of map.scanned) {
      const h = Math.max(1, Math.round((px - gap) * f));
      for (let i = a; i < b; i++)
        ctx.fillRect((i % cols) * px, Math.floor(i / cols) * px + (px - gap - h), px - gap, h);
    }
    for (const i of this.cells.keys()) fill(i, colour[this.kindOf(i).kind]);
    // The grid lines between cells come from the gap; outline the keyboard focus.
    if (document.activeElement === this.canvas) {
      ctx.strokeStyle = css.getPropertyValue("--focus").trim();
      ctx.lineWidth = 2;
      ctx.strokeRect((this.focus % cols) * px + 1, Math.floor(this.focus / cols) * px + 1, px - 2, px - 2);
    }
    this.describe();
  }

  private describe(): void {
    const map = this.map!;
    const t = map.totals;
    const rangeText = `blocks ${count(map.fromBlock)}–${count(map.toBlock - 1)}, ${count(map.blocksPerCell)} block${map.blocksPerCell > 1 ? "s" : ""} per cell`;
    this.root.querySelector("#map-range")!.textContent = rangeText;
    this.canvas.setAttribute(
      "aria-label",
      `Block map, ${rangeText}: ${t.remapped} remapped, ${t.pending} pending, ${t.lost} with lost sectors, ${t.suspect} suspect`,
    );
    this.canvas.dataset.totals = JSON.stringify(t);
    const zoomed = this.range.from !== 0 || this.range.to !== this.blockCount;
    (this.root.querySelector("#zoom-out") as HTMLButtonElement).disabled = !zoomed;
    (this.root.querySelector("#zoom-all") as HTMLButtonElement).disabled = !zoomed;
    const notable = [...this.cells.keys()].sort((a, b) => a - b).slice(0, 200);
    this.list.innerHTML = notable
      .map((i) => {
        const { kind } = this.kindOf(i);
        return `<li data-cell="${i}" data-kind="${kind}">${esc(this.cellText(i))}</li>`;
      })
      .join("");
  }

  private cellBlocks(i: number): { first: number; end: number } {
    const map = this.map!;
    const first = map.fromBlock + i * map.blocksPerCell;
    return { first, end: Math.min(map.toBlock, first + map.blocksPerCell) };
  }

  private cellText(i: number): string {
    const map = this.map!;
    const { first, end } = this.cellBlocks(i);
    const c = this.cells.get(i);
    const parts = [
      end - first === 1 ? `block ${count(first)}` : `blocks ${count(first)}–${count(end - 1)}`,
      `bytes ${count(first * map.blockSize)}–${count(end * map.blockSize - 1)} (${bytes((end - first) * map.blockSize)})`,
    ];
    if (c?.remapped) parts.push(`${c.remapped} remapped`);
    if (c?.pending) parts.push(`${c.pending} pending`);
    if (c?.lost) parts.push(`${c.lost} with lost sectors`);
    if (c?.suspect) parts.push(`${c.suspect} suspect`);
    if (map.scanKnown) parts.push(`${Math.round(this.scannedFraction(i) * 100)}% scanned`);
    return parts.join(", ");
  }

  private cellAt(e: MouseEvent): number | undefined {
    if (!this.map) return undefined;
    const { cols, px } = this.grid();
    const rect = this.canvas.getBoundingClientRect();
    const col = Math.floor((e.clientX - rect.left) / px);
    const row = Math.floor((e.clientY - rect.top) / px);
    const i = row * cols + col;
    return col >= 0 && col < cols && i >= 0 && i < this.map.cellCount ? i : undefined;
  }

  private hover(e: MouseEvent): void {
    const i = this.cellAt(e);
    if (i === undefined) {
      this.tip.hidden = true;
      return;
    }
    this.tip.textContent = this.cellText(i);
    this.tip.hidden = false;
    const rect = this.canvas.getBoundingClientRect();
    this.tip.style.left = `${Math.min(e.clientX - rect.left + 12, rect.width - 220)}px`;
    this.tip.style.top = `${e.clientY - rect.top + 14}px`;
  }

  private key(e: KeyboardEvent): void {
    if (!this.map) return;
    const { cols } = this.grid();
    const moves: Record<string, number> = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -cols, ArrowDown: cols };
    if (e.key in moves) {
      this.focus = Math.max(0, Math.min(this.map.cellCount - 1, this.focus + moves[e.key]!));
      this.info.textContent = this.cellText(this.focus);
      this.draw();
    } else if (e.key === "Enter" || e.key === " ") this.zoomInto(this.focus);
    else if (e.key === "Escape" || e.key === "-") this.zoomOut();
    else return;
    e.preventDefault();
  }

  private zoomInto(i: number): void {
    const map = this.map;
    if (!map || map.blocksPerCell === 1) {
      if (map) this.info.textContent = this.cellText(i);
      return;
    }
    const { first, end } = this.cellBlocks(i);
    // Keep at least a grid's worth of blocks so the deepest zoom shows single blocks around the cell.
    const { cols, rows } = this.grid();
    const want = Math.max(end - first, Math.min(this.blockCount, cols * rows));
    const from = Math.max(0, Math.min(first, this.blockCount - want));
    this.zoomStack.push(this.range);
    this.zoomTo({ from, to: from + want });
  }

  private zoomOut(): void {
    const prev = this.zoomStack.pop();
    if (prev) this.zoomTo(prev);
  }

  private zoomTo(range: { from: number; to: number }, reset = false): void {
    if (reset) this.zoomStack.length = 0;
    this.range = range;
    this.focus = 0;
    void this.refresh();
  }
}
