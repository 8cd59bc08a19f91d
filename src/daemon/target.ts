// What the daemon's control surfaces (HTTP API, metrics, CLI) see of one served target.
// The stack builder adapts a RemappedDevice (and its fault layer, if any) to this interface.

/** One entry of the remap table as shown to administrators. */
export interface RemapEntryView {
  readonly block: number;
  readonly slot: number;
  /** Index of the spare device that holds the slot. */
  readonly spare: number;
  /** Byte offset of the slot on that spare (dm tables need it). */
  readonly spareOffsetBytes?: number;
  /** Numbers (0-based, within the block) of 512-byte sectors whose content was lost. */
  readonly lostSectors: readonly number[];
}

/** A page of the remap table. */
export interface RemapPage {
  readonly entries: readonly RemapEntryView[];
  /** Pass as `cursor` to get the next page; absent on the last page. */
  readonly nextCursor?: number;
  readonly total: number;
}

/** A fault rule as data (see docs/DEVICE-SPECS.md); `kind` is a registered fault kind. */
export interface FaultRuleView {
  readonly kind: string;
  readonly [option: string]: unknown;
}

/** The control surface of one target. */
export interface ControlTarget {
  readonly name: string;
  /** Export name on the NBD server. */
  readonly exportName: string;
  /** Live status (the remapped device's status(): state, counters, spare, metadata copies ...). */
  status(): TargetStatus;
  list(options: { cursor?: number; limit: number }): RemapPage;
  pendingBlocks(): readonly number[];
  remapBlock(block: number): Promise<void>;
  unremapBlock(block: number): Promise<void>;
  markPending(block: number): Promise<void>;
  clearPending(block: number): Promise<void>;
  /** Fault control, present only when the target was configured with a fault layer for testing. */
  readonly faults?: {
    list(): FaultRuleView[];
    add(rule: FaultRuleView): void;
    clear(): void;
    status(): Record<string, unknown>;
  };
}

/** The status fields every consumer may rely on (more may be present). */
export interface TargetStatus {
  readonly name: string;
  readonly uuid: string;
  readonly state: "healthy" | "degraded" | "read-only" | "failed";
  readonly reason?: string;
  readonly blockSize: number;
  readonly sizeBytes: number;
  /** The main device served now (its describe()); changes when replace-main switches. */
  readonly mainDevice?: string;
  readonly remappedBlocks: number;
  readonly pendingBlocks: number;
  readonly lostSectors: number;
  readonly spare: {
    readonly totalBlocks: number;
    readonly usedBlocks: number;
    readonly freeBlocks: number;
    readonly nearlyExhausted: boolean;
  };
  readonly errors: { readonly read: number; readonly write: number; readonly [kind: string]: number };
  readonly remaps: { readonly [reason: string]: number };
  readonly io: {
    readonly reads: number;
    readonly writes: number;
    readonly bytesRead: number;
    readonly bytesWritten: number;
  };
  /** Spares the set runs without (empty when complete). */
  readonly missingSpares?: readonly {
    readonly index: number;
    readonly uuid: string;
    readonly lastKnownDevice?: string;
  }[];
  /** Remapped blocks whose slot is on a missing spare: they read EIO until rewritten. */
  readonly unavailableBlocks?: number;
  readonly metadata: {
    readonly generation: number;
    readonly copies: readonly { readonly device: string; readonly slot: string; readonly state: string }[];
  };
  readonly [extra: string]: unknown;
}
