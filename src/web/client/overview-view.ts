// The overview: one compact, sortable, filterable row per target (built for 100+ targets). Rows are
// re-rendered from each "overview" event of the live feed; sort and filter survive the updates.
import type { OverviewRow } from "../dashboard-types.js";
import { ago, count, duration, esc } from "./format.js";

type SortKey =
  "name" | "state" | "tier" | "remapped" | "pending" | "lost" | "spare" | "eta" | "scan" | "event";

const TIER_RANK: Record<string, number> = { healthy: 0, watch: 1, degrading: 2, replace: 3 };
const STATE_RANK: Record<string, number> = { healthy: 0, degraded: 1, "read-only": 2, failed: 3 };

const COLUMNS: readonly { key: SortKey; label: string; numeric?: boolean }[] = [
  { key: "name", label: "Target" },
  { key: "state", label: "State" },
  { key: "tier", label: "Risk" },
  { key: "remapped", label: "Remapped", numeric: true },
  { key: "pending", label: "Pending", numeric: true },
  { key: "lost", label: "Lost sectors", numeric: true },
  { key: "spare", label: "Spare used", numeric: true },
  { key: "eta", label: "Spare runs out (P50, P10–P90)", numeric: true },
  { key: "scan", label: "Scan", numeric: true },
  { key: "event", label: "Last event" },
];

function tierRank(r: OverviewRow): number {
  return r.tier === null ? 0 : (TIER_RANK[r.tier] ?? 9) + 1;
}

function sortValue(r: OverviewRow, key: SortKey): number | string {
  switch (key) {
    case "name":
      return r.name;
    // State and tier break each other's ties, so either order puts the most urgent target first.
    case "state":
      return (STATE_RANK[r.state] ?? 9) * 10 + tierRank(r);
    case "tier":
      return tierRank(r) * 10 + (STATE_RANK[r.state] ?? 9);
    case "remapped":
      return r.remappedBlocks;
    case "pending":
      return r.pendingBlocks;
    case "lost":
      return r.lostSectors;
    case "spare":
      return r.spareUsedPercent;
    case "eta":
      return r.etaSeconds?.p50 ?? Number.MAX_SAFE_INTEGER;
    case "scan":
      return r.scan?.percent ?? -1;
    case "event":
      return r.lastEvent?.t ?? 0;
  }
}

/** Badge of a state or tier. */
export function badge(kind: string, text = kind): string {
  return `<span class="badge b-${esc(kind)}">${esc(text)}</span>`;
}

/** The overview page. */
export class OverviewView {
  private rows: readonly OverviewRow[] = [];
  // Most urgent first by default: people open the page to see what is wrong.
  private sortKey: SortKey = "tier";
  private descending = true;
  private filter = "";
  private readonly tbody: HTMLTableSectionElement;
  private readonly summary: HTMLElement;

  constructor(private readonly root: HTMLElement) {
    root.innerHTML = `
      <h1>Targets</h1>
      <div class="toolbar">
        <label>Filter <input id="filter" type="search" placeholder="name, state or risk" autocomplete="off"></label>
        <span id="overview-summary" role="status" aria-live="polite"></span>
      </div>
      <div class="table-wrap"><table class="overview" aria-describedby="overview-summary">
        <thead><tr>${COLUMNS.map(
          (c) =>
            `<th scope="col" data-key="${c.key}" class="${c.numeric ? "num" : ""}"><button type="button">${esc(c.label)}</button></th>`,
        ).join("")}</tr></thead>
        <tbody></tbody>
      </table></div>`;
    this.tbody = root.querySelector("tbody")!;
    this.summary = root.querySelector("#overview-summary")!;
    root.querySelector<HTMLInputElement>("#filter")!.addEventListener("input", (e) => {
      this.filter = (e.target as HTMLInputElement).value.trim().toLowerCase();
      this.render();
    });
    for (const th of root.querySelectorAll<HTMLElement>("th[data-key]")) {
      th.querySelector("button")!.addEventListener("click", () => {
        const key = th.dataset.key as SortKey;
        if (this.sortKey === key) this.descending = !this.descending;
        else {
          this.sortKey = key;
          this.descending = key !== "name";
        }
        this.render();
      });
    }
  }

  /** New rows from the feed. */
  update(rows: readonly OverviewRow[]): void {
    this.rows = rows;
    this.render();
  }

  private render(): void {
    const f = this.filter;
    const shown = this.rows.filter(
      (r) => !f || r.name.toLowerCase().includes(f) || r.state.includes(f) || (r.tier ?? "").includes(f),
    );
    const dir = this.descending ? -1 : 1;
    shown.sort((a, b) => {
      const x = sortValue(a, this.sortKey);
      const y = sortValue(b, this.sortKey);
      return (x < y ? -1 : x > y ? 1 : 0) * dir || a.name.localeCompare(b.name);
    });
    for (const th of this.root.querySelectorAll<HTMLElement>("th[data-key]")) {
      th.setAttribute(
        "aria-sort",
        th.dataset.key === this.sortKey ? (this.descending ? "descending" : "ascending") : "none",
      );
    }
    const alerts = this.rows.filter((r) => r.alert && !r.acknowledged).length;
    this.summary.textContent = `${shown.length} of ${this.rows.length} targets${alerts ? `, ${alerts} need attention` : ""}`;
    this.tbody.innerHTML = shown.map(rowHtml).join("");
  }
}

function rowHtml(r: OverviewRow): string {
  const eta = r.etaSeconds;
  const scan = r.scan
    ? `<progress max="100" value="${r.scan.percent}" aria-label="scan of ${esc(r.name)}"></progress> ${r.scan.percent}% <small>${esc(r.scan.state)}</small>`
    : `<small>no scanner</small>`;
  return `<tr class="${r.alert && !r.acknowledged ? "alert" : ""}" data-target="${esc(r.name)}">
    <th scope="row"><a href="#/target/${encodeURIComponent(r.name)}">${esc(r.name)}</a></th>
    <td>${badge(r.state)}${r.reason ? `<div class="why">${esc(r.reason)}</div>` : ""}</td>
    <td>${r.tier ? badge(r.tier) : "<small>no forecast</small>"}${r.tierReason ? `<div class="why">${esc(r.tierReason)}</div>` : ""}${r.acknowledged ? ` <small>(acknowledged)</small>` : ""}</td>
    <td class="num" data-field="remapped">${count(r.remappedBlocks)}</td>
    <td class="num" data-field="pending">${count(r.pendingBlocks)}</td>
    <td class="num" data-field="lost">${count(r.lostSectors)}</td>
    <td class="num"><meter min="0" max="100" high="80" optimum="0" value="${r.spareUsedPercent}" aria-label="spare used"></meter> ${r.spareUsedPercent}%</td>
    <td class="num">${eta?.p50 != null ? `${duration(eta.p50)} <small>(${duration(eta.p10)}–${duration(eta.p90)})</small>` : "—"}</td>
    <td class="num" data-field="scan">${scan}</td>
    <td>${r.lastEvent ? `${esc(r.lastEvent.text)} <small>${ago(r.lastEvent.t)}</small>` : "—"}</td>
  </tr>`;
}
