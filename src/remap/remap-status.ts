// Live status of a remapped device, computed from the table and counters on demand (never cached).
import type { DeviceStatus } from "../block/block-device.js";
import type { CopyStatus } from "../metadata/metadata-store.js";
import { countLost } from "./lost-sectors.js";
import type { RemapCore } from "./remap-core.js";
import type { RemapState } from "./remap-events.js";
import type { SpareUsage } from "./spare-pool.js";

/** Remap-specific status fields (merged into DeviceStatus by RemappedDevice.status()). */
export interface RemapStatus {
  readonly name: string;
  readonly uuid: string;
  readonly state: RemapState;
  /** Why the state is not healthy ("" when healthy). */
  readonly reason: string;
  readonly blockSize: number;
  readonly remappedBlocks: number;
  readonly pendingBlocks: number;
  readonly lostSectors: number;
  readonly spare: {
    readonly totalBlocks: number;
    readonly usedBlocks: number;
    readonly freeBlocks: number;
    /** Slots whose spare write failed this session (counted in usedBlocks). */
    readonly quarantinedBlocks: number;
    readonly nearlyExhausted: boolean;
    readonly alertPercent: number;
    /** Per spare: used, free and quarantined slots, and whether new slots avoid it (failing or missing). */
    readonly perSpare: (SpareUsage & { readonly quarantined: boolean })[];
  };
  /** Error counts by kind (DeviceStatus.errors stays the plain total of failed requests). */
  readonly errorCounts: {
    readonly read: number;
    readonly write: number;
    readonly flush: number;
    readonly metadata: number;
    readonly spare: number;
    readonly noSpace: number;
  };
  readonly retries: { readonly read: number; readonly write: number; readonly spare: number };
  /** Main writes abandoned at main_write_timeout: total, and whose range is still fenced now. */
  readonly fence: { readonly abandonedWrites: number; readonly fencedNow: number; readonly dropped: number };
  /** Read errors that did not move their block (policy judged them transient), and remaps that failed. */
  readonly transient: { readonly recoveredKept: number; readonly remapsFailed: number };
  /** Blocks with a read-error history in memory (bounded by policy errorHistoryBlocks). */
  readonly errorHistoryBlocks: number;
  readonly remaps: {
    readonly "write-error": number;
    readonly "read-error": number;
    readonly migrate: number;
    readonly manual: number;
    readonly unremaps: number;
  };
  readonly pendingEvents: { readonly marked: number; readonly cleared: number };
  readonly metadata: { readonly generation: number; readonly copies: CopyStatus[] };
  readonly io: {
    readonly reads: number;
    readonly writes: number;
    readonly bytesRead: number;
    readonly bytesWritten: number;
    readonly flushes: number;
  };
  readonly main: DeviceStatus;
  readonly spares: DeviceStatus[];
  /** Mirrored sets only: how many remapped blocks have their two copies. */
  readonly mirror?: MirrorStatus;
}

/** Copies of remapped blocks in a mirrored set. */
export interface MirrorStatus {
  readonly copies: 2;
  /** Remapped blocks with both copies on healthy spares. */
  readonly mirroredBlocks: number;
  /** Remapped blocks with one copy only (degraded until `dmremap spare rebuild`). */
  readonly singleCopyBlocks: number;
  /** Spares present and without write errors this session (2 are needed). */
  readonly healthySpares: number;
  /** Copies rewritten after a failed read, re-made in a new slot, reads served by the second copy. */
  readonly repaired: number;
  readonly rebuilt: number;
  readonly readFallbacks: number;
}

/** I/O counters kept by BaseDevice. */
interface IoCounters {
  readonly reads: number;
  readonly writes: number;
  readonly bytesRead: number;
  readonly bytesWritten: number;
  readonly flushes: number;
}

/** The remap-specific part of status() (merged into DeviceStatus). */
export function remapStatus(core: RemapCore, io: IoCounters): RemapStatus {
  const s = core.stats;
  const { state, reason } = core.state();
  let lostSectors = 0;
  for (const mask of core.lost.values()) lostSectors += countLost(mask);
  const pool = core.pool;
  const single = core.singleCopyBlocks();
  return {
    name: core.name,
    uuid: core.store.identity.uuid,
    state,
    reason,
    blockSize: core.blockSize,
    remappedBlocks: core.table.size,
    pendingBlocks: core.pending.size,
    lostSectors,
    spare: {
      totalBlocks: pool.capacitySlots,
      usedBlocks: pool.usedSlots,
      freeBlocks: pool.freeSlots,
      quarantinedBlocks: core.quarantinedSlots,
      nearlyExhausted: pool.nearlyExhausted,
      alertPercent: core.policy.spareAlertPercent,
      perSpare: pool.perSpare().map((u) => ({ ...u, quarantined: core.failingSpares.has(u.index) })),
    },
    errorCounts: {
      read: s["errors.read"] ?? 0,
      write: s["errors.write"] ?? 0,
      flush: s["errors.flush"] ?? 0,
      metadata: s["errors.metadata"] ?? 0,
      spare: s["errors.spare"] ?? 0,
      noSpace: s["errors.noSpace"] ?? 0,
    },
    retries: { read: s["retries.read"] ?? 0, write: s["retries.write"] ?? 0, spare: s["retries.spare"] ?? 0 },
    fence: {
      abandonedWrites: core.main.abandonedWrites,
      fencedNow: core.main.fencedWrites,
      dropped: core.main.droppedWrites,
    },
    transient: { recoveredKept: s["recovered.kept"] ?? 0, remapsFailed: s["remaps.failed"] ?? 0 },
    errorHistoryBlocks: core.errorHistory.size,
    remaps: {
      "write-error": s["remaps.write-error"] ?? 0,
      "read-error": s["remaps.read-error"] ?? 0,
      migrate: s["remaps.migrate"] ?? 0,
      manual: s["remaps.manual"] ?? 0,
      unremaps: s["unremaps"] ?? 0,
    },
    pendingEvents: { marked: s["pending.marked"] ?? 0, cleared: s["pending.cleared"] ?? 0 },
    metadata: {
      generation: core.store.generation,
      copies: core.store.copies(),
    },
    io: {
      reads: io.reads,
      writes: io.writes,
      bytesRead: io.bytesRead,
      bytesWritten: io.bytesWritten,
      flushes: io.flushes,
    },
    main: core.main.status(),
    spares: core.spares.map((d) => d.status()),
    ...(core.mirrorCopies === 2
      ? {
          mirror: {
            copies: 2 as const,
            mirroredBlocks: core.table.size - single,
            singleCopyBlocks: single,
            healthySpares: core.healthySpareCount(),
            repaired: s["mirror.repaired"] ?? 0,
            rebuilt: s["mirror.rebuilt"] ?? 0,
            readFallbacks: s["mirror.readFallbacks"] ?? 0,
          },
        }
      : {}),
  };
}
