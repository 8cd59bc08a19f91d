// The dashboard's wire types: what the daemon sends to the browser (GET /v1/dashboard, the block map,
// the SSE stream). Pure types, shared by the server side (src/web) and the browser bundle (client/).

/** Risk tiers as the forecast names them (healthy < watch < degrading < replace). */
export type TierName = "healthy" | "watch" | "degrading" | "replace";

/** One row of the overview table. */
export interface OverviewRow {
  readonly name: string;
  readonly state: string;
  /** Why the state is not healthy ("" when it is). */
  readonly reason: string;
  /** Risk tier, or null without a forecast service. */
  readonly tier: TierName | null;
  readonly tierReason: string;
  readonly sizeBytes: number;
  readonly blockSize: number;
  readonly remappedBlocks: number;
  readonly pendingBlocks: number;
  readonly lostSectors: number;
  readonly spareTotalBlocks: number;
  readonly spareUsedBlocks: number;
  /** Used spare slots in percent (0 for a set without spare slots). */
  readonly spareUsedPercent: number;
  /** Spare exhaustion ETA in seconds (null: no forecast yet). */
  readonly etaSeconds: {
    readonly p10: number | null;
    readonly p50: number | null;
    readonly p90: number | null;
  } | null;
  /** Scanner progress, or null without a scanner. */
  readonly scan: {
    readonly state: string;
    readonly pass: number;
    readonly percent: number;
    readonly bytesPerSecond: number;
    readonly errorsFound: number;
  } | null;
  readonly lastEvent: DashboardEvent | null;
  /** The row needs a person (state not healthy, or tier degrading / replace). */
  readonly alert: boolean;
  /** The current alert was acknowledged on the dashboard (a new condition clears it). */
  readonly acknowledged: boolean;
}

/** One recent event with its reason in words. */
export interface DashboardEvent {
  /** Milliseconds since the epoch. */
  readonly t: number;
  readonly kind: string;
  readonly block?: number;
  readonly text: string;
}

/** One spare device's gauge. */
export interface SpareGauge {
  readonly index: number;
  readonly uuid: string;
  readonly totalBlocks: number;
  readonly usedBlocks: number;
  readonly freeBlocks: number;
  /** Quarantined slots (present once the spare pool reports them per spare). */
  readonly quarantinedBlocks: number | null;
  readonly missing: boolean;
}

/** One metadata copy's health. */
export interface MetadataCopyView {
  readonly device: string;
  readonly slot: string;
  readonly state: string;
  readonly generation: number | null;
}

/** Time series sampled by the daemon while the dashboard runs (one point per tick). */
export interface LiveSeries {
  /** Seconds since the epoch. */
  readonly t: readonly number[];
  readonly scanBytesPerSecond: readonly number[];
  /** Client request latency in the tick, milliseconds (null: no request in that tick). */
  readonly latencyP50Ms: readonly (number | null)[];
  readonly latencyP99Ms: readonly (number | null)[];
}

/** Cumulative counts from the event history (one point per event). */
export interface HistorySeries {
  /** Seconds since the epoch. */
  readonly t: readonly number[];
  readonly remaps: readonly number[];
  readonly errors: readonly number[];
}

/** The forecast chart's inputs. */
export interface ForecastView {
  readonly tier: TierName;
  readonly reason: string;
  readonly rules: readonly string[];
  readonly etaSeconds: {
    readonly p10: number | null;
    readonly p50: number | null;
    readonly p90: number | null;
  } | null;
  readonly remapRatePerDay: number;
  readonly evaluatedAt: number;
}

/** Everything the target page shows except the block map. */
export interface TargetDetail {
  readonly row: OverviewRow;
  readonly spares: readonly SpareGauge[];
  readonly quarantinedBlocks: number | null;
  readonly spareAlertPercent: number;
  readonly metadata: { readonly generation: number; readonly copies: readonly MetadataCopyView[] };
  readonly errors: Readonly<Record<string, number>>;
  readonly scan:
    | (OverviewRow["scan"] & {
        readonly scannedBlocks: number;
        readonly totalBlocks: number;
        readonly etaSeconds: number | null;
      })
    | null;
  readonly forecast: ForecastView | null;
  readonly events: readonly DashboardEvent[];
  readonly history: HistorySeries;
  readonly live: LiveSeries;
  readonly faultsEnabled: boolean;
}

/** Counts per cell: [cell index, blocks in that cell], ascending by cell, only non-zero cells. */
export type CellCounts = readonly (readonly [number, number])[];

/** The aggregated map of the block range [fromBlock, toBlock). */
export interface BlockMap {
  readonly fromBlock: number;
  readonly toBlock: number;
  readonly blockSize: number;
  readonly blocksPerCell: number;
  readonly cellCount: number;
  readonly remapped: CellCounts;
  readonly pending: CellCounts;
  /** Remapped blocks with lost 512-byte sectors. */
  readonly lost: CellCounts;
  readonly suspect: CellCounts;
  /** Runs [firstCell, endCell, fraction scanned in the current or last pass]; cells in no run: 0. */
  readonly scanned: readonly (readonly [number, number, number])[];
  /** Whether a scanner reports coverage at all. */
  readonly scanKnown: boolean;
  readonly totals: {
    readonly remapped: number;
    readonly pending: number;
    readonly lost: number;
    readonly suspect: number;
  };
}

/** Events of the SSE stream GET /v1/events (the `event:` field names the payload type). */
export interface StreamPayloads {
  readonly overview: readonly OverviewRow[];
  /** The target page's data without `history`, which comes as its own event when it changed. */
  readonly target: Omit<TargetDetail, "history">;
  readonly history: HistorySeries;
}
