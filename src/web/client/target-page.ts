// The target page: state and risk with reasons, counters, the block map, per-spare gauges and metadata
// copies, charts, recent events and the actions (scan start / pause / resume, remap / unremap / mark
// pending / clear pending a block, acknowledge the alert), all updated from the live feed.
import type { HistorySeries, StreamPayloads, TargetDetail } from "../dashboard-types.js";
import { del, post, seg, token } from "./api.js";
import { BlockMapView } from "./block-map-view.js";
import { TargetCharts } from "./charts.js";
import { ago, bytes, count, duration, esc } from "./format.js";
import { badge } from "./overview-view.js";

/** One target's page. */
export class TargetPage {
  private map: BlockMapView | undefined;
  private readonly charts: TargetCharts;
  private lastMapKey = "";
  private readonly $ = (sel: string) => this.root.querySelector<HTMLElement>(sel)!;

  constructor(
    private readonly root: HTMLElement,
    private readonly name: string,
  ) {
    root.innerHTML = `
      <p><a href="#/">← All targets</a></p>
      <h1>Target <span id="t-name">${esc(name)}</span> <span id="t-state"></span> <span id="t-tier"></span></h1>
      <div id="t-reasons" class="reasons"></div>
      <div class="ack-row"><button type="button" id="ack" hidden>Acknowledge alert</button></div>
      <dl class="counters">
        <div><dt>Remapped blocks</dt><dd id="c-remapped">–</dd></div>
        <div><dt>Pending blocks</dt><dd id="c-pending">–</dd></div>
        <div><dt>Lost sectors</dt><dd id="c-lost">–</dd></div>
        <div><dt>Spare used</dt><dd id="c-spare">–</dd></div>
        <div><dt>Spare runs out (P50)</dt><dd id="c-eta">–</dd></div>
        <div><dt>Scan</dt><dd id="c-scan">–</dd></div>
      </dl>
      <section aria-labelledby="h-map"><h2 id="h-map">Block map</h2><div id="map"></div></section>
      <div class="two">
        <section aria-labelledby="h-spares"><h2 id="h-spares">Spares</h2><div id="spares"></div></section>
        <section aria-labelledby="h-meta"><h2 id="h-meta">Metadata copies</h2><div id="meta"></div></section>
      </div>
      <section aria-labelledby="h-charts"><h2 id="h-charts">Charts</h2><div id="charts"></div></section>
      <div class="two">
        <section aria-labelledby="h-events"><h2 id="h-events">Recent events</h2><ol id="events" class="events"></ol></section>
        <section aria-labelledby="h-actions"><h2 id="h-actions">Actions</h2>
          <p class="hint" id="token-hint"></p>
          <fieldset><legend>Scanner</legend>
            <button type="button" data-scan="start">Start scan</button>
            <button type="button" data-scan="pause">Pause</button>
            <button type="button" data-scan="resume">Resume</button>
            <button type="button" data-scan="stop">Stop</button>
          </fieldset>
          <fieldset><legend>One block</legend>
            <label>Block number <input id="block" type="number" min="0" step="1" inputmode="numeric" required></label>
            <div class="buttons">
              <button type="button" data-block="remap">Remap</button>
              <button type="button" data-block="unremap">Unremap</button>
              <button type="button" data-block="pending">Mark pending</button>
              <button type="button" data-block="clear">Clear pending</button>
            </div>
          </fieldset>
          <p id="action-result" role="status" aria-live="polite"></p>
        </section>
      </div>`;
    this.charts = new TargetCharts(this.$("#charts"));
    this.$("#ack").addEventListener("click", () =>
      this.act(() => post(`/v1/targets/${seg(name)}/alert/ack`), "alert acknowledged"),
    );
    for (const b of root.querySelectorAll<HTMLButtonElement>("[data-scan]")) {
      const verb = b.dataset.scan!;
      b.addEventListener("click", () =>
        this.act(() => post(`/v1/targets/${seg(name)}/scan/${verb}`), `scan ${verb}: done`),
      );
    }
    for (const b of root.querySelectorAll<HTMLButtonElement>("[data-block]")) {
      b.addEventListener("click", () => this.blockAction(b.dataset.block!));
    }
  }

  private async act(call: () => Promise<unknown>, done: string): Promise<void> {
    const out = this.$("#action-result");
    out.className = "";
    try {
      await call();
      out.textContent = done;
    } catch (err) {
      out.className = "error";
      out.textContent = (err as Error).message;
    }
  }

  private blockAction(verb: string): void {
    const input = this.root.querySelector<HTMLInputElement>("#block")!;
    const block = Number(input.value);
    if (input.value === "" || !Number.isSafeInteger(block) || block < 0) {
      this.$("#action-result").className = "error";
      this.$("#action-result").textContent = `block number "${input.value}" is not a non-negative integer`;
      input.focus();
      return;
    }
    const base = `/v1/targets/${seg(this.name)}`;
    const calls: Record<string, () => Promise<unknown>> = {
      remap: () => post(`${base}/remap`, { blocks: [block] }),
      unremap: () => post(`${base}/unremap`, { blocks: [block] }),
      pending: () => post(`${base}/pending`, { blocks: [block] }),
      clear: () => del(`${base}/pending/${block}`),
    };
    void this.act(calls[verb]!, `block ${block}: ${verb} done`);
  }

  private history: HistorySeries = { t: [], remaps: [], errors: [] };

  /** New event history from the feed (it comes apart from the details, only when it changed). */
  setHistory(h: HistorySeries): void {
    this.history = h;
  }

  /** New details (from the feed, or the first GET with its history). */
  update(partial: StreamPayloads["target"] | TargetDetail): void {
    if ("history" in partial) this.history = partial.history;
    const d: TargetDetail = { ...partial, history: this.history };
    const r = d.row;
    if (!this.map) {
      this.map = new BlockMapView(this.$("#map"), this.name, Math.floor(r.sizeBytes / r.blockSize));
    }
    this.$("#t-state").innerHTML = badge(r.state);
    this.$("#t-tier").innerHTML = r.tier ? badge(r.tier, `risk: ${r.tier}`) : "";
    const reasons = [r.reason, r.tierReason, ...(d.forecast?.rules ?? [])].filter(
      (x, i, a) => x && a.indexOf(x) === i,
    );
    this.$("#t-reasons").innerHTML = reasons.length
      ? `<ul>${reasons.map((x) => `<li>${esc(x)}</li>`).join("")}</ul>`
      : "";
    const ack = this.$("#ack") as HTMLButtonElement;
    ack.hidden = !r.alert;
    ack.disabled = r.acknowledged;
    ack.textContent = r.acknowledged ? "Alert acknowledged" : "Acknowledge alert";
    this.$("#c-remapped").textContent = count(r.remappedBlocks);
    this.$("#c-pending").textContent = count(r.pendingBlocks);
    this.$("#c-lost").textContent = count(r.lostSectors);
    this.$("#c-spare").textContent =
      `${r.spareUsedPercent}% (${count(r.spareUsedBlocks)} of ${count(r.spareTotalBlocks)})`;
    const eta = r.etaSeconds;
    this.$("#c-eta").textContent =
      eta?.p50 != null
        ? `${duration(eta.p50)} (P10 ${duration(eta.p10)}, P90 ${duration(eta.p90)})`
        : "no forecast yet";
    const s = d.scan;
    this.$("#c-scan").innerHTML = s
      ? `<progress id="scan-progress" max="100" value="${s.percent}" aria-label="scan progress"></progress> <span id="scan-percent">${s.percent}%</span> ${esc(s.state)}<br><small>pass ${s.pass}, ${bytes(s.bytesPerSecond)}/s${s.etaSeconds != null ? `, ${duration(s.etaSeconds)} left` : ""}, ${s.errorsFound} errors</small>`
      : "no scanner";
    this.$("#token-hint").textContent = token()
      ? ""
      : "Actions need the API token (top of the page) on a TCP listener.";
    this.renderSpares(d);
    this.renderEvents(d);
    this.charts.update(d);
    // The map changes with the counters and the scan; fetch it again only then.
    const mapKey = `${r.remappedBlocks}|${r.pendingBlocks}|${r.lostSectors}|${s?.percent ?? ""}|${s?.state ?? ""}`;
    if (mapKey !== this.lastMapKey) {
      this.lastMapKey = mapKey;
      void this.map.refresh();
    }
  }

  private renderSpares(d: TargetDetail): void {
    this.$("#spares").innerHTML = d.spares
      .map((g) => {
        const pct = g.totalBlocks ? (g.usedBlocks / g.totalBlocks) * 100 : 0;
        const q = g.quarantinedBlocks;
        return `<div class="gauge${g.missing ? " missing" : ""}">
          <div class="gauge-label">spare ${g.index}${g.missing ? " (missing)" : ""} <small>${esc(g.uuid.slice(0, 8))}</small></div>
          <div class="bar" role="meter" aria-label="spare ${g.index} used" aria-valuemin="0" aria-valuemax="100" aria-valuenow="${pct.toFixed(1)}">
            <span class="used" style="width:${pct}%"></span>${q ? `<span class="quarantined" style="width:${(q / Math.max(1, g.totalBlocks)) * 100}%"></span>` : ""}
          </div>
          <small>${count(g.usedBlocks)} used, ${count(g.freeBlocks)} free${q !== null ? `, ${count(q)} quarantined` : ""} of ${count(g.totalBlocks)}</small>
        </div>`;
      })
      .join("");
    if (d.quarantinedBlocks !== null)
      this.$("#spares").insertAdjacentHTML(
        "beforeend",
        `<p>${count(d.quarantinedBlocks)} quarantined slot(s) in the pool (a spare write failed)</p>`,
      );
    const m = d.metadata;
    this.$("#meta").innerHTML =
      `<p>generation ${m.generation}</p><table><thead><tr><th scope="col">Device</th><th scope="col">Slot</th><th scope="col">State</th></tr></thead><tbody>${m.copies
        .map(
          (c) =>
            `<tr><td>${esc(c.device)}</td><td>${esc(c.slot)}</td><td>${badge(c.state === "ok" ? "healthy" : "degraded", c.state)}</td></tr>`,
        )
        .join("")}</tbody></table>`;
  }

  private renderEvents(d: TargetDetail): void {
    this.$("#events").innerHTML = d.events.length
      ? d.events
          .map(
            (e) =>
              `<li><time datetime="${new Date(e.t).toISOString()}">${ago(e.t)}</time> ${esc(e.text)}</li>`,
          )
          .join("")
      : "<li>no events recorded (the forecast service records them)</li>";
  }
}
