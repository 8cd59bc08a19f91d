// Ranges whose scanner read was far slower than the device's own latency distribution (or failed
// without being marked): re-read later with back-off; slow three times = weak (reported, kept).
import type { Clock } from "./clock.js";
import type { SuspectRecord } from "./scan-state.js";

/** Slow reads after which a range is judged weak and no longer re-read. */
const WEAK_AFTER = 3;

/** Bounded list of suspect ranges, keyed by first block. */
export class SuspectList {
  private readonly byBlock = new Map<number, SuspectRecord>();
  private readonly taken = new Set<number>();

  constructor(
    private readonly settings: { readonly suspectRecheckMs: number; readonly maxSuspects: number },
    private readonly clock: Clock,
  ) {}

  load(records: readonly SuspectRecord[]): void {
    for (const r of records) this.byBlock.set(r.firstBlock, r);
  }

  /** Record a slow (or unmarked failed) read; false when the range was already suspect. */
  add(firstBlock: number, countBlocks: number, ms: number): boolean {
    if (this.byBlock.has(firstBlock)) return false;
    if (this.byBlock.size >= this.settings.maxSuspects) {
      // Bounded memory: the oldest suspect that is not weak gives way.
      const oldest = [...this.byBlock.values()].find((s) => s.recheckAt !== null);
      if (!oldest) return false;
      this.byBlock.delete(oldest.firstBlock);
    }
    const now = this.clock.now();
    this.byBlock.set(firstBlock, {
      firstBlock,
      countBlocks,
      firstSeenAt: now,
      slowestMs: Math.round(ms),
      slowReads: 1,
      recheckAt: now + this.settings.suspectRecheckMs,
    });
    return true;
  }

  /** A suspect due for its re-read (marked as taken until rechecked()). */
  takeDue(): SuspectRecord | undefined {
    const now = this.clock.now();
    for (const s of this.byBlock.values()) {
      if (s.recheckAt !== null && s.recheckAt <= now && !this.taken.has(s.firstBlock)) {
        this.taken.add(s.firstBlock);
        return s;
      }
    }
    return undefined;
  }

  /** The re-read of `firstBlock` took `ms`: slow again -> back off (or weak), fast -> cleared. */
  rechecked(firstBlock: number, ms: number, thresholdMs: number): "cleared" | "suspect" | "weak" {
    this.taken.delete(firstBlock);
    const s = this.byBlock.get(firstBlock);
    if (!s) return "cleared";
    if (ms <= thresholdMs) {
      this.byBlock.delete(firstBlock);
      return "cleared";
    }
    const slowReads = s.slowReads + 1;
    const weak = slowReads >= WEAK_AFTER;
    this.byBlock.set(firstBlock, {
      ...s,
      slowestMs: Math.max(s.slowestMs, Math.round(ms)),
      slowReads,
      recheckAt: weak ? null : this.clock.now() + this.settings.suspectRecheckMs * 2 ** slowReads,
    });
    return weak ? "weak" : "suspect";
  }

  list(): SuspectRecord[] {
    return [...this.byBlock.values()].sort((a, b) => a.firstBlock - b.firstBlock);
  }
}
