// Prometheus series of the health services (dmremap_scan_*, spare-exhaustion ETA, risk tier),
// filled from the scanner's and forecast's status at scrape time.
import { Gauge, type Registry } from "prom-client";
import { RISK_TIERS } from "../health/risk.js";
import { healthOf } from "./health-services.js";
import type { ControlTarget } from "./target.js";

const SCAN_STATES = ["idle", "scanning", "paused"] as const;

/** The health gauges of one registry. */
export interface HealthMetrics {
  reset(): void;
  export(target: ControlTarget): void;
}

/** Register the health gauges in `registry`. */
export function createHealthMetrics(registry: Registry): HealthMetrics {
  const registers = [registry];
  const g = (name: string, help: string, labelNames: string[] = ["target"]) =>
    new Gauge({ name, help, labelNames, registers });
  const scanState = g("dmremap_scan_state", "1 for the scanner's current state, 0 for the others.", [
    "target",
    "state",
  ]);
  const scanPass = g("dmremap_scan_pass", "Number of the current (or last) scan pass.");
  const scanCursor = g("dmremap_scan_cursor_block", "Block the scan sweep reads next.");
  const scanScanned = g("dmremap_scan_scanned_blocks", "Blocks covered by the current pass.");
  const scanTotal = g("dmremap_scan_total_blocks", "Blocks of main (the size of a pass).");
  const scanErrors = g("dmremap_scan_errors_found", "Bad blocks found by the current pass.");
  const scanErrorsAll = g(
    "dmremap_scan_errors_found_total",
    "Bad blocks found by the scanner since the daemon started.",
  );
  const scanSuspects = g(
    "dmremap_scan_suspect_blocks",
    "Blocks in ranges that read far slower than the device's own latency.",
  );
  const scanRate = g("dmremap_scan_bytes_per_second", "Scanner read rate over the last seconds.");
  const scanEta = g(
    "dmremap_scan_eta_seconds",
    "Estimated seconds until the current pass ends (absent when unknown).",
  );
  const scanBytes = g("dmremap_scan_read_bytes_total", "Bytes read by the scanner since the daemon started.");
  const eta = g(
    "dmremap_spare_exhaustion_eta_seconds",
    "Forecast seconds until the spare pool is exhausted, by quantile (0.1, 0.5, 0.9); absent without a forecast.",
    ["target", "quantile"],
  );
  const alertEta = g(
    "dmremap_spare_alert_eta_seconds",
    "Forecast seconds until free spare slots reach the alert threshold, by quantile.",
    ["target", "quantile"],
  );
  const tier = g(
    "dmremap_risk_tier",
    "Risk tier of the target: 0 healthy, 1 watch, 2 degrading, 3 replace (label `tier` names it).",
    ["target", "tier"],
  );
  const all = [
    scanState,
    scanPass,
    scanCursor,
    scanScanned,
    scanTotal,
    scanErrors,
    scanErrorsAll,
    scanSuspects,
    scanRate,
    scanEta,
    scanBytes,
    eta,
    alertEta,
    tier,
  ];

  return {
    reset: () => all.forEach((m) => m.reset()),
    export(t) {
      const target = t.name;
      const { scanner, forecast } = healthOf(t);
      if (scanner) {
        const s = scanner.scanStatus();
        for (const st of SCAN_STATES) scanState.set({ target, state: st }, s.state === st ? 1 : 0);
        scanPass.set({ target }, s.pass);
        scanCursor.set({ target }, s.cursorBlock);
        scanScanned.set({ target }, s.scannedBlocks);
        scanTotal.set({ target }, s.totalBlocks);
        scanErrors.set({ target }, s.errorsFound);
        scanErrorsAll.set({ target }, s.totals.errorsFound);
        scanSuspects.set({ target }, s.suspectBlocks);
        scanRate.set({ target }, s.bytesPerSecond);
        scanBytes.set({ target }, s.totals.bytesRead);
        if (s.etaSeconds !== null) scanEta.set({ target }, s.etaSeconds);
      }
      if (forecast) {
        const f = forecast.forecastStatus();
        tier.set({ target, tier: f.tier }, RISK_TIERS.indexOf(f.tier));
        for (const [series, q] of [
          [eta, f.spareExhaustionEtaSeconds],
          [alertEta, f.alertEtaSeconds],
        ] as const) {
          if (!q) continue;
          for (const [quantile, v] of [
            ["0.1", q.p10],
            ["0.5", q.p50],
            ["0.9", q.p90],
          ] as const)
            series.set({ target, quantile }, v ?? Infinity);
        }
      }
    },
  };
}
