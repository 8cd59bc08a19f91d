// The contract between the remap layer and its persistent metadata (implemented in this folder).
// The remap layer keeps the live table in memory; the store makes changes durable and reloads them.
import type { BlockDevice } from "../block/block-device.js";
import type { DeviceIdentity } from "../block/device-identity.js";

/** One spare device as recorded in the superblock. */
export interface SpareIdentity {
  /** UUID of this spare (random at create). */
  readonly uuid: string;
  /** Position in the set, 0-based; also the order of global slot numbering. */
  readonly index: number;
  readonly sizeBytes: number;
  /** First byte of the data-slot area (after this spare's metadata area). */
  readonly dataOffsetBytes: number;
  /** Number of block-sized data slots on this spare. */
  readonly slotCount: number;
  /** First global slot number of this spare (sum of slotCount of the spares before it). */
  readonly firstSlot: number;
  /**
   * A removed spare (tombstone, zero UUID on disk): its slot range stays reserved so no slot number
   * changes, but no device is expected or accepted for it and no slot is allocated there.
   */
  readonly removed?: true;
}

/** What the set is: written in the superblock of every spare, checked on open. */
export interface SetIdentity {
  readonly uuid: string;
  readonly name: string;
  /** Remap unit in bytes: power of two, 512..65536. */
  readonly blockSize: number;
  readonly mainSizeBytes: number;
  /** Fingerprint of the main device (hex); see docs/FORMAT.md for how it is computed. */
  readonly mainFingerprint: string;
  /** Device spec of the main device at create time, so a set can be assembled from its spares alone. */
  readonly mainSpec?: string;
  readonly spares: readonly SpareIdentity[];
  /** Unix ms when the set was created (informational only; never used for ordering). */
  readonly createdAtMs: number;
  /** Copies of every remapped block (2: mirrored on two different spares); absent means 1. */
  readonly mirrorCopies?: 2;
}

/** A change to the table, appended to the journal. Blocks are remap-unit indexes on main. */
export type JournalRecord =
  /** `block` now lives in global spare slot `slot`. */
  | { readonly type: "remap"; readonly block: number; readonly slot: number; readonly reason: RemapReason }
  /** `block` lives on main again; its slot is free. */
  | { readonly type: "unremap"; readonly block: number }
  /** `block` could not be read from main: reads fail until it is written. */
  | { readonly type: "pending"; readonly block: number }
  /** `block` is no longer pending (it was rewritten, remapped or cleared by the administrator). */
  | { readonly type: "clear-pending"; readonly block: number }
  /**
   * Lost 512-byte sectors of remapped `block`: bit i of `sectorMask` = sector i (LSB-first per byte),
   * length blockSize/512/8 rounded up. A mask of all zero bits means "none lost".
   */
  | { readonly type: "lost"; readonly block: number; readonly sectorMask: Uint8Array }
  /**
   * Mirrored sets: the second copy of remapped `block` lives in global slot `slot` (NO_MIRROR: the
   * block has one copy now). An unremap of the block drops its second copy too.
   */
  | { readonly type: "mirror"; readonly block: number; readonly slot: number };

/** Slot value of a mirror record that drops the second copy. */
export const NO_MIRROR = 0xffffffff;

/** Why a block was remapped (counted in status). */
export type RemapReason = "write-error" | "read-error" | "migrate" | "manual";

/** The whole persistent state, as loaded on open and as written by a checkpoint. */
export interface TableSnapshot {
  /** Remapped blocks, sorted ascending, and their global slots (same length). */
  readonly blocks: Float64Array;
  readonly slots: Uint32Array;
  /** Pending blocks, sorted ascending. */
  readonly pending: Float64Array;
  /** Remapped blocks that have lost sectors, and their masks. */
  readonly lost: ReadonlyMap<number, Uint8Array>;
  /** Statistics that survive restarts (e.g. remapsByReason.write-error, errors.read). */
  readonly counters: Readonly<Record<string, number>>;
  /** Mirrored sets: remapped blocks that have a second copy (sorted ascending) and its slot. */
  readonly mirrors?: { readonly blocks: Float64Array; readonly slots: Uint32Array };
}

/** Health of one metadata copy (one per spare). */
export interface CopyStatus {
  /** describe() of the spare device that holds the copy. */
  readonly device: string;
  readonly spareIndex: number;
  /** End holding the newest valid state of this copy: "A" its head, "B" its tail (version 1: slot A / B). */
  readonly slot: "A" | "B" | "none";
  readonly generation: number;
  /** ok: current; stale: older generation (repaired on open); corrupt: unreadable/CRC error; failed: a write or flush failed. */
  readonly state: "ok" | "stale" | "corrupt" | "failed";
  readonly detail?: string;
  /** Structures of this copy that moved to a relocation area ("head checkpoint slot", "tail journal"). */
  readonly relocated?: readonly string[];
}

/** A spare of the set that was not given on open (the set runs degraded without it). */
export interface MissingSpare {
  readonly index: number;
  readonly uuid: string;
  readonly sizeBytes: number;
  /** The spec the spare was last opened with, from the newest checkpoint (when recorded). */
  readonly lastKnownDevice?: string;
}

/** Durable storage of a set's table. All methods are safe to call concurrently. */
export interface MetadataStore {
  readonly identity: SetIdentity;
  /** Generation of the newest durable state; only grows. */
  readonly generation: number;
  /**
   * Append records and make them durable on every healthy copy (write + flush).
   * Concurrent calls share flushes (group commit). Rejects with MetadataWriteError when no copy
   * could persist them; a copy that fails is marked failed and never trusted again.
   */
  append(records: readonly JournalRecord[]): Promise<void>;
  /** True when the journal is filling up and the owner should call checkpoint() soon. */
  readonly wantsCheckpoint: boolean;
  /** Spares recorded as being drained (new slots avoid them); absent: none or not recorded. */
  readonly drainingSpares?: readonly number[];
  /**
   * Write the full state to both ends of every healthy copy (one end at a time), flush, reset the journal.
   * The table written is the store's own (last checkpoint + every committed record, so an append in
   * flight is never lost); `snapshot.counters` are persisted with it.
   */
  checkpoint(snapshot: TableSnapshot): Promise<void>;
  /** Per-copy health. */
  copies(): CopyStatus[];
  /** Stop using the devices (does not close them). */
  close(): Promise<void>;
}

/** Arguments to create a new set on blank spares. */
export interface CreateSetOptions {
  readonly main: BlockDevice;
  readonly spares: readonly BlockDevice[];
  readonly blockSize: number;
  readonly name: string;
  /** Device spec of main to record in the superblock (default: main.describe()). */
  readonly mainSpec?: string;
  /** Overwrite spares that already hold dmremap metadata. */
  readonly force?: boolean;
  /** Identity of the main device to record (probeDeviceIdentity of the main spec). */
  readonly mainIdentity?: DeviceIdentity;
}

/** Arguments to open an existing set. */
export interface OpenSetOptions {
  /** Spares in any order; they are matched by UUID. */
  readonly spares: readonly BlockDevice[];
  /** When given, checked against the recorded size and fingerprint. */
  readonly main?: BlockDevice;
  /** When given, the main's identity (probeDeviceIdentity) is checked against the recorded one. */
  readonly mainIdentity?: DeviceIdentity;
  /** Rewrite stale or corrupt copies from the newest valid state (default true). */
  readonly repair?: boolean;
  /**
   * Inspection only: report every copy as found even on read-only devices (otherwise they count as
   * failed, since nothing could be written to them). The caller must not write through the store.
   */
  readonly inspect?: boolean;
  /** The spares' superblocks as already read by the caller (identifySpares), so they are read once. */
  readonly identified?: import("./identify-spares.js").Identified;
}

/** Result of opening a set. */
export interface OpenedSet {
  readonly store: MetadataStore;
  readonly snapshot: TableSnapshot;
  /** Copies that were repaired on open, and anything else worth logging. */
  readonly notes: readonly string[];
  /** Set when no copy could be written on open: the set must be served read-only. */
  readonly readOnlyReason?: string;
  /** Identity of the main device recorded in the newest checkpoint (absent for older sets). */
  readonly mainIdentity?: DeviceIdentity;
  /** Spares of the set that were not given (empty when every spare is present). */
  readonly missingSpares?: readonly MissingSpare[];
}
