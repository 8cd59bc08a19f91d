// Adapts an assembled stack (RemappedDevice + optional fault layer) to the ControlTarget surface
// that the HTTP API, the metrics adapter and the CLI render.
import type { FaultRuleConfig } from "../block/fault-rules.js";
import { degradedReason, degradedView } from "./degraded-status.js";
import type { AssembledTarget } from "./stack.js";
import type { ControlTarget, FaultRuleView, RemapPage, TargetStatus } from "./target.js";

/** Status of a remapped device in the shape every consumer relies on (`errors` = error counts). */
export function targetStatus(target: AssembledTarget): TargetStatus {
  const raw = target.device.status() as Record<string, unknown>;
  const { errorCounts, errors: _ioErrors, ...rest } = raw;
  const faults = target.faults ? { faults: target.faults.faultCounters() } : {};
  // A missing spare makes the set degraded whatever else is fine, and the reason says which one.
  const degraded = degradedView(target);
  const missing = degradedReason(degraded);
  const health =
    missing && (rest.state === "healthy" || rest.state === "degraded")
      ? { state: "degraded", reason: [missing, rest.reason].filter(Boolean).join("; ") }
      : {};
  return {
    ...rest,
    ...health,
    sizeBytes: target.device.sizeBytes,
    // The device served as main now (replace-main changes it while serving).
    mainDevice: target.main.describe(),
    errors: errorCounts,
    ...faults,
    missingSpares: degraded.missingSpares,
    unavailableBlocks: degraded.unavailableBlocks,
  } as TargetStatus;
}

/** Build the control surface of one target. */
export function controlTarget(name: string, exportName: string, target: AssembledTarget): ControlTarget {
  const { device, faults } = target;
  return {
    name,
    exportName,
    status: () => targetStatus(target),
    list({ cursor, limit }): RemapPage {
      const page = device.list({ ...(cursor !== undefined ? { cursor } : {}), limit });
      return {
        entries: page.entries.map((e) => ({
          block: e.block,
          slot: e.slot,
          spare: e.spare,
          spareOffsetBytes: e.spareOffsetBytes,
          lostSectors: e.lostSectors,
        })),
        ...(page.nextCursor !== null ? { nextCursor: page.nextCursor } : {}),
        total: device.remappedCount,
      };
    },
    pendingBlocks: () => pendingBlocks(target),
    remapBlock: async (block) => {
      await device.remapBlock(block);
    },
    unremapBlock: (block) => device.unremapBlock(block),
    markPending: async (block) => {
      await device.markPending(block);
    },
    clearPending: async (block) => {
      await device.clearPending(block);
    },
    ...(faults
      ? {
          faults: {
            list: () =>
              faults.listRules().map((r) => ({ ...r.config, id: r.id, spec: r.spec }) as FaultRuleView),
            add: (rule: FaultRuleView) => {
              faults.addRule(rule as unknown as FaultRuleConfig);
            },
            clear: () => faults.clearRules(),
            status: () => ({ ...faults.faultCounters(), rules: faults.listRules().length }),
          },
        }
      : {}),
  };
}

/** Every pending block, ascending (pages through the device's listing). */
export function pendingBlocks(target: AssembledTarget): number[] {
  const out: number[] = [];
  let cursor: number | undefined = 0;
  while (cursor !== undefined) {
    const page = target.device.list({ cursor, limit: 100_000 });
    out.push(...page.pending);
    cursor = page.nextCursor ?? undefined;
  }
  return out;
}
