// Entry of the dashboard bundle: hash routing (#/ overview, #/target/NAME), the live feed over
// Server-Sent Events (EventSource reconnects by itself), the API token field and the theme switch.
import type { HistorySeries, OverviewRow, StreamPayloads, TargetDetail } from "../dashboard-types.js";
import { get, seg, setToken, token } from "./api.js";
import { chartProbe } from "./charts.js";
import { OverviewView } from "./overview-view.js";
import { TargetPage } from "./target-page.js";
import "./styles.css";

const app = document.getElementById("app")!;
const live = document.getElementById("live")!;
let source: EventSource | undefined;

function connect(
  target: string | undefined,
  onOverview: (rows: OverviewRow[]) => void,
  onTarget?: (d: StreamPayloads["target"]) => void,
  onHistory?: (h: HistorySeries) => void,
): void {
  source?.close();
  const s = new EventSource(`/v1/events${target !== undefined ? `?target=${seg(target)}` : ""}`);
  source = s;
  s.addEventListener("open", () => {
    live.textContent = "live";
    live.className = "live on";
  });
  s.addEventListener("error", () => {
    live.textContent = "reconnecting…";
    live.className = "live off";
  });
  s.addEventListener("overview", (e) =>
    onOverview(JSON.parse((e as MessageEvent<string>).data) as OverviewRow[]),
  );
  const data = <T>(e: Event) => JSON.parse((e as MessageEvent<string>).data) as T;
  if (onTarget) s.addEventListener("target", (e) => onTarget(data<StreamPayloads["target"]>(e)));
  if (onHistory) s.addEventListener("history", (e) => onHistory(data<HistorySeries>(e)));
}

function route(): void {
  const m = /^#\/target\/(.+)$/.exec(location.hash);
  if (m) {
    const name = decodeURIComponent(m[1]!);
    document.title = `${name} · dmremap`;
    const page = new TargetPage(app, name);
    connect(
      name,
      () => {},
      (d) => page.update(d),
      (h) => page.setHistory(h),
    );
    // The first paint does not wait for the stream.
    void get<TargetDetail>(`/v1/dashboard/targets/${seg(name)}`)
      .then((d) => page.update(d))
      .catch((err: Error) => {
        app.innerHTML = `<p class="error" role="alert">${err.message.replace(/</g, "&lt;")}</p><p><a href="#/">All targets</a></p>`;
      });
  } else {
    document.title = "dmremap dashboard";
    const view = new OverviewView(app);
    connect(undefined, (rows) => view.update(rows));
    void get<OverviewRow[]>("/v1/dashboard").then((rows) => view.update(rows));
  }
  app.focus({ preventScroll: true });
}

function setupChrome(): void {
  const input = document.getElementById("token") as HTMLInputElement;
  input.value = token();
  input.addEventListener("change", () => setToken(input.value.trim()));
  const theme = document.getElementById("theme") as HTMLButtonElement;
  const apply = (t: string | null) => {
    if (t) document.documentElement.dataset.theme = t;
    else delete document.documentElement.dataset.theme;
    theme.setAttribute("aria-pressed", String(t === "dark"));
  };
  apply(localStorage.getItem("dmremap-theme"));
  theme.addEventListener("click", () => {
    const dark = document.documentElement.dataset.theme
      ? document.documentElement.dataset.theme === "dark"
      : matchMedia("(prefers-color-scheme: dark)").matches;
    const next = dark ? "light" : "dark";
    localStorage.setItem("dmremap-theme", next);
    apply(next);
    // Canvases read their colours from CSS variables: draw them again.
    window.dispatchEvent(new Event("resize"));
    route();
  });
}

declare global {
  interface Window {
    /** Performance probe for bench/dashboard-bench.ts. */
    dmremapChartProbe?: typeof chartProbe;
  }
}
window.dmremapChartProbe = chartProbe;

setupChrome();
window.addEventListener("hashchange", route);
route();
