// Events the remap layer reports to whoever hosts it (daemon logs, metrics); remap/ imports no adapter.
import type { RemapReason } from "../metadata/metadata-store.js";

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
  /** A block is no longer pending. */
  onPendingCleared?(event: { block: number }): void;
  /** The overall state changed. */
  onStateChange?(event: { state: RemapState; reason: string }): void;
  /** Free spare slots fell to the alert threshold. */
  onSpareAlert?(event: { freeBlocks: number; totalBlocks: number }): void;
  /** A background task (migration, checkpoint) failed; it has already been accounted in status. */
  onBackgroundError?(event: { task: string; error: unknown }): void;
}
