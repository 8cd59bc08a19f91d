// Events the remap layer reports to whoever hosts it (daemon logs, metrics); remap/ imports no adapter.
import type { RemapReason } from "../metadata/metadata-store.js";
import type { FencedWriteEvent } from "./fenced-main.js";

/** Why a pending mark went away. */
export type PendingClearReason = "rewritten" | "read-back" | "manual";

/** What happened to a copy of a mirrored block. */
export type MirrorAction = "repaired" | "rebuilt" | "single-copy";

/** Overall health of a remapped device. */
export type RemapState = "healthy" | "degraded" | "read-only" | "failed";

/** Optional callbacks; each is called synchronously after the change is durable. Exceptions are ignored. */
export interface RemapEvents {
  /** A block now lives in a spare slot. */
  onRemap?(event: { block: number; slot: number; reason: RemapReason; lostSectors: number }): void;
  /** A block lives on main again. */
  onUnremap?(event: { block: number; slot: number }): void;
  /** A block became pending (its data is unreadable). */
  onPending?(event: { block: number }): void;
  /** A block is no longer pending (`reason`: "rewritten", "read-back" when main returned its data, "manual"). */
  onPendingCleared?(event: { block: number; reason?: PendingClearReason }): void;
  /** A main write outlived main_write_timeout: abandoned, its range fenced until it ends, the block remapped. */
  onFencedWrite?(event: FencedWriteEvent): void;
  /** A remap could not be done (no spare slot, metadata error, spare failure); the request failed. */
  onRemapFailed?(event: { block: number; reason: RemapReason; error: unknown }): void;
  /** The overall state changed. */
  onStateChange?(event: { state: RemapState; reason: string }): void;
  /** Free spare slots fell to the alert threshold. */
  onSpareAlert?(event: { freeBlocks: number; totalBlocks: number }): void;
  /**
   * Mirrored sets: a copy of `block` was repaired in place, rebuilt in a new slot, or could not be
   * made (the block has one copy: "single-copy"); `slot` is the slot concerned, `detail` says why.
   */
  onMirror?(event: { block: number; action: MirrorAction; slot: number; detail: string }): void;
  /** A background task (migration, checkpoint) failed; it has already been accounted in status. */
  onBackgroundError?(event: { task: string; error: unknown }): void;
}
