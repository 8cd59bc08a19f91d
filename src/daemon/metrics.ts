// Prometheus adapter (prom-client, own Registry): a request-duration histogram the daemon feeds, and
// gauges/counters filled from every target's status() at scrape time.

import { Counter, Gauge, Registry, collectDefaultMetrics } from "prom-client";
import { createHealthMetrics } from "./health-metrics.js";
import type { Logger } from "./logger.js";
import type { MetricsAdapter } from "./metrics-adapter.js";
import { RequestHistogram } from "./request-histogram.js";
import { drainProgress, poolOperations, rebuildProgress } from "./spare-routes.js";
import { replaceProgress } from "./replace-routes.js";
import type { ControlTarget, TargetStatus } from "./target.js";

/** Options of createMetrics. */
export interface MetricsOptions {
  /** Targets whose status is exported on each scrape (default: none). */
  readonly targets?: () => readonly ControlTarget[];
  /** Also export the default process metrics (CPU, memory, event loop); default false. */
  readonly processMetrics?: boolean;
  /** Where a failing status() is reported. */
  readonly logger?: Logger;
}

/** The Prometheus metrics adapter. */
export interface PrometheusMetrics extends MetricsAdapter {
  readonly registry: Registry;
  /** Re-read every target's status into the gauges (render() does this itself). */
  refresh(): void;
  /** Count one state change of `target` into `state` (the daemon's state logger calls it). */
  stateChanged(target: string, state: string): void;
}

const TARGET_STATES = ["healthy", "degraded", "read-only", "failed"] as const;
/** Buckets from 50 µs to 30 s: local flash to a retried read on a dying disk. */
const DURATION_BUCKETS = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
  30,
];

/** A counter value as prom-client accepts it (finite, non-negative). */
function count(n: unknown): number {
  return typeof n === "number" && Number.isFinite(n) && n > 0 ? n : 0;
}

/** Data-path counters of a remap status (src/remap/remap-status.ts), when the target reports them. */
interface DatapathStatus {
  readonly fence?: { readonly abandonedWrites: number };
  readonly transient?: { readonly remapsFailed: number; readonly recoveredKept: number };
  readonly pendingEvents?: { readonly cleared: number };
}

/** Create a metrics adapter with its own registry. */
export function createMetrics(options: MetricsOptions = {}): PrometheusMetrics {
  const registry = new Registry();
  const targets = options.targets ?? (() => []);
  const registers = [registry];

  // Registered first: prom-client starts collecting metrics in registration order, synchronously up to
  // the first await, so this collect refreshes every status-backed metric before they are serialised.
  const targetCount = new Gauge({
    name: "dmremap_targets",
    help: "Number of served targets.",
    registers,
    collect: () => refresh(),
  });
  const g = (name: string, help: string, labelNames: string[] = ["target"]) =>
    new Gauge({ name, help, labelNames, registers });
  const c = (name: string, help: string, labelNames: string[] = ["target"]) =>
    new Counter({ name, help, labelNames, registers });

  const info = g("dmremap_target_info", "Constant 1 with the target's export name and set UUID.", [
    "target",
    "export",
    "uuid",
  ]);
  const state = g("dmremap_target_state", "1 for the target's current state, 0 for the others.", [
    "target",
    "state",
  ]);
  const remapped = g("dmremap_remapped_blocks", "Blocks whose data lives on a spare.");
  const pending = g("dmremap_pending_blocks", "Unreadable blocks waiting for a write (reads return EIO).");
  const lost = g(
    "dmremap_lost_sectors",
    "512-byte sectors whose content was lost (reads return EIO until written).",
  );
  const spareTotal = g("dmremap_spare_blocks_total", "Spare slots in the pool.");
  const spareUsed = g("dmremap_spare_blocks_used", "Spare slots in use.");
  const spareLow = g(
    "dmremap_spare_nearly_exhausted",
    "1 when free spare slots are at or below the threshold.",
  );
  const spareSlots = g(
    "dmremap_spare_device_slots",
    "Slots of each spare device of the pool, total and used.",
    ["target", "spare", "kind"],
  );
  const drainBlocks = g(
    "dmremap_spare_drain_blocks",
    "Blocks of a spare drain, moved (done) and to move (total).",
    ["target", "spare", "kind"],
  );
  const rebuildBlocks = g(
    "dmremap_mirror_rebuild_blocks",
    "Blocks of the newest mirror rebuild: handled (done) and needing a copy when it started (total).",
    ["target", "kind"],
  );
  const replaceBytes = g(
    "dmremap_replace_bytes",
    "Bytes of a main replacement: copied, done (copied or skipped) and total.",
    ["target", "kind"],
  );
  const replaceState = g("dmremap_replace_state", "Main replacement state (1 for the current one).", [
    "target",
    "state",
    "phase",
  ]);
  const sparesMissing = g("dmremap_spares_missing", "Spares the set runs without (degraded when above 0).");
  const unavailable = g(
    "dmremap_unavailable_blocks",
    "Remapped blocks whose slot is on a missing spare (reads return EIO until written).",
  );
  const mirrorBlocks = g(
    "dmremap_mirror_blocks",
    "Mirrored sets: remapped blocks with two copies (mirrored) and without two healthy copies (single_copy).",
    ["target", "kind"],
  );
  const generation = g("dmremap_metadata_generation", "Generation of the newest durable metadata.");
  const copyHealthy = g("dmremap_metadata_copy_healthy", "1 when a metadata copy is current and readable.", [
    "target",
    "device",
    "slot",
  ]);
  const ioErrors = c(
    "dmremap_io_errors_total",
    "I/O errors seen on the devices of the target, by operation.",
    ["target", "op"],
  );
  const remaps = c("dmremap_remaps_total", "Blocks remapped, by reason.", ["target", "reason"]);
  const readBytes = c("dmremap_read_bytes_total", "Bytes read by clients.");
  const writtenBytes = c("dmremap_written_bytes_total", "Bytes written by clients.");
  const stateChanges = c(
    "dmremap_state_changes_total",
    "State changes of the target, by the state entered.",
    ["target", "state"],
  );
  const duration = new RequestHistogram(
    "dmremap_request_duration_seconds",
    "Duration of client requests, by operation.",
    DURATION_BUCKETS,
    registry,
  );
  const statusBacked = [
    info,
    state,
    remapped,
    pending,
    lost,
    spareTotal,
    spareUsed,
    spareLow,
    generation,
    copyHealthy,
    sparesMissing,
    unavailable,
    mirrorBlocks,
    spareSlots,
    drainBlocks,
    rebuildBlocks,
    replaceBytes,
    replaceState,
  ];
  const datapath = c(
    "dmremap_datapath_events_total",
    "Data-path events: fenced_write (a main write abandoned at main_write_timeout), remap_failed, pending_cleared, recovered_kept (a read error judged transient).",
    ["target", "event"],
  );
  const poolOps = c(
    "dmremap_spare_operations_total",
    "Spare-pool operations of this daemon run (add, drain, remove, rebuild), by result (ok, failed).",
    ["target", "op", "result"],
  );
  const counters = [ioErrors, remaps, readBytes, writtenBytes, datapath, poolOps];
  const health = createHealthMetrics(registry);

  if (options.processMetrics) collectDefaultMetrics({ register: registry });

  function exportStatus(t: ControlTarget, s: TargetStatus): void {
    const target = t.name;
    info.set({ target, export: t.exportName, uuid: s.uuid }, 1);
    for (const st of TARGET_STATES) state.set({ target, state: st }, s.state === st ? 1 : 0);
    remapped.set({ target }, s.remappedBlocks);
    pending.set({ target }, s.pendingBlocks);
    lost.set({ target }, s.lostSectors);
    spareTotal.set({ target }, s.spare.totalBlocks);
    spareUsed.set({ target }, s.spare.usedBlocks);
    spareLow.set({ target }, s.spare.nearlyExhausted ? 1 : 0);
    generation.set({ target }, s.metadata.generation);
    sparesMissing.set({ target }, s.missingSpares?.length ?? 0);
    const perSpare = (s.spare as { perSpare?: { index: number; totalBlocks: number; usedBlocks: number }[] })
      .perSpare;
    for (const p of drainProgress(t)) {
      drainBlocks.set({ target, spare: String(p.spare), kind: "done" }, p.done);
      drainBlocks.set({ target, spare: String(p.spare), kind: "total" }, p.total);
    }
    const rebuild = rebuildProgress(t);
    if (rebuild)
      for (const kind of ["done", "total"] as const) rebuildBlocks.set({ target, kind }, rebuild[kind]);
    const replacing = replaceProgress(t);
    if (replacing) {
      for (const kind of ["copied", "done", "total"] as const)
        replaceBytes.set({ target, kind }, replacing[`${kind}Bytes`]);
      replaceState.set({ target, state: replacing.state, phase: replacing.phase }, 1);
    }
    for (const one of perSpare ?? []) {
      spareSlots.set({ target, spare: String(one.index), kind: "total" }, one.totalBlocks);
      spareSlots.set({ target, spare: String(one.index), kind: "used" }, one.usedBlocks);
    }
    unavailable.set({ target }, s.unavailableBlocks ?? 0);
    const mirror = (s as { mirror?: { mirroredBlocks: number; singleCopyBlocks: number } }).mirror;
    if (mirror) {
      mirrorBlocks.set({ target, kind: "mirrored" }, mirror.mirroredBlocks);
      mirrorBlocks.set({ target, kind: "single_copy" }, mirror.singleCopyBlocks);
    }
    for (const copy of s.metadata.copies) {
      copyHealthy.set({ target, device: copy.device, slot: copy.slot }, copy.state === "ok" ? 1 : 0);
    }
    // Counters mirror the target's own (persistent) counters: reset, then add the current value.
    for (const [op, n] of Object.entries(s.errors)) ioErrors.inc({ target, op }, count(n));
    for (const [reason, n] of Object.entries(s.remaps)) remaps.inc({ target, reason }, count(n));
    for (const { op, result, count: n } of poolOperations(t)) poolOps.inc({ target, op, result }, n);
    const d = s as DatapathStatus;
    datapath.inc({ target, event: "fenced_write" }, count(d.fence?.abandonedWrites ?? 0));
    datapath.inc({ target, event: "remap_failed" }, count(d.transient?.remapsFailed ?? 0));
    datapath.inc({ target, event: "pending_cleared" }, count(d.pendingEvents?.cleared ?? 0));
    datapath.inc({ target, event: "recovered_kept" }, count(d.transient?.recoveredKept ?? 0));
    readBytes.inc({ target }, count(s.io.bytesRead));
    writtenBytes.inc({ target }, count(s.io.bytesWritten));
  }

  function refresh(): void {
    const list = targets();
    targetCount.set(list.length);
    for (const metric of [...statusBacked, ...counters]) metric.reset();
    health.reset();
    for (const t of list) {
      try {
        exportStatus(t, t.status());
        health.export(t);
      } catch (err) {
        // One broken target must not take the whole scrape down; it shows up as missing series.
        options.logger?.warn("metrics: status of target failed", { target: t.name, err });
      }
    }
  }

  return {
    registry,
    contentType: registry.contentType,
    refresh,
    render: () => registry.metrics(),
    stateChanged(target, state) {
      stateChanges.inc({ target, state });
    },
    observeRequests(target, times) {
      duration.observeTimes(target, times);
    },
  };
}
