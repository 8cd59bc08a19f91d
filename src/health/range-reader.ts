// Reading for the scanner: one range at a time through the read path, skipping remapped and pending
// blocks, giving blocks a failed read left unmarked a read of their own, and judging latencies
// against the scanner's own distribution (slow ranges become suspect, see suspect-list.ts).
import { MediumError } from "../block/errors.js";
import type { Clock } from "./clock.js";
import type { ScanSettings } from "./health-config.js";
import type { HealthFinding, HealthLogger } from "./health-logger.js";
import { LatencyHistogram } from "./latency-histogram.js";
import type { BlockRun } from "./neighbourhoods.js";
import type { ScanSource } from "./scan-source.js";
import type { SuspectList } from "./suspect-list.js";

/** Full-size scanner reads needed before a read can be judged slow. */
const MIN_LATENCY_SAMPLES = 32;

/** What the reader works with. */
export interface RangeReaderOptions {
  readonly source: ScanSource;
  readonly settings: Pick<ScanSettings, "suspectFactor" | "suspectMinMs">;
  readonly suspects: SuspectList;
  readonly clock: Clock;
  readonly log: HealthLogger;
  readonly onFinding?: (finding: HealthFinding) => void;
  /** Monotonic milliseconds for read latencies. */
  readonly latencyNow: () => number;
  /** `bytes` were read (progress accounting). */
  readonly account: (bytes: number) => void;
}

/** Reads ranges for the scanner. */
export class RangeReader {
  private readonly latency = new LatencyHistogram();

  constructor(private readonly o: RangeReaderOptions) {}

  /** Read the unskipped runs of `run`; returns the slowest read in ms (Infinity: a block failed unmarked). */
  async read(job: BlockRun, buffer: Uint8Array, judge: boolean): Promise<number> {
    const { source } = this.o;
    const bs = source.blockSize;
    const end = job.firstBlock + job.countBlocks;
    let slowest = 0;
    for (let block = job.firstBlock; block < end;) {
      const skipped = source.firstSkipped(block, end);
      if (skipped === block) {
        while (block < end && source.isSkipped(block)) block++;
        continue;
      }
      const runEnd = skipped < 0 ? end : skipped;
      const bytes = Math.min(runEnd * bs, source.sizeBytes) - block * bs;
      const started = this.o.latencyNow();
      let failed = false;
      try {
        await source.read(block * bs, buffer.subarray(0, bytes));
      } catch (err) {
        if (!(err instanceof MediumError)) throw err;
        failed = true;
      }
      const ms = this.o.latencyNow() - started;
      slowest = Math.max(slowest, ms);
      this.o.account(bytes);
      if (failed) {
        if (await this.afterFailedRead(block, runEnd, buffer)) slowest = Infinity;
      } else if (judge) this.judgeLatency(block, runEnd - block, ms, bytes === buffer.length);
      block = runEnd;
    }
    return slowest;
  }

  /** The re-read of a suspect `job` took `slowestMs`. */
  rechecked(job: BlockRun, slowestMs: number): void {
    const verdict = this.o.suspects.rechecked(job.firstBlock, slowestMs, this.slowThresholdMs());
    if (verdict !== "weak") return;
    this.o.log.warn("scan: range slow on every read, judged weak", {
      firstBlock: job.firstBlock,
      countBlocks: job.countBlocks,
    });
    this.o.onFinding?.({
      at: this.o.clock.now(),
      block: job.firstBlock,
      kind: "weak",
      source: "scan",
    });
  }

  /** The read path gave up on part of [first, end): blocks it marked are findings (already counted
   * through events); a failure that marked nothing (retry budget spent) is re-read later. */
  private async afterFailedRead(first: number, end: number, buffer: Uint8Array): Promise<boolean> {
    const { source } = this.o;
    const bs = source.blockSize;
    let unmarked = false;
    // The read path spends one retry budget per request: blocks after the first bad one may have
    // been given up unmarked. Each gets a read (and a budget) of its own.
    for (let b = first; b < end; b++) {
      if (source.isSkipped(b)) continue;
      const bytes = Math.min((b + 1) * bs, source.sizeBytes) - b * bs;
      try {
        await source.read(b * bs, buffer.subarray(0, bytes));
      } catch (err) {
        if (!(err instanceof MediumError)) throw err;
        if (!source.isSkipped(b)) {
          this.o.suspects.add(b, 1, 0);
          unmarked = true;
        }
      }
    }
    return unmarked;
  }

  private slowThresholdMs(): number {
    const { suspectFactor, suspectMinMs } = this.o.settings;
    if (this.latency.count < MIN_LATENCY_SAMPLES) return Infinity;
    return Math.max(suspectMinMs, suspectFactor * this.latency.quantile(0.99));
  }

  private judgeLatency(first: number, count: number, ms: number, fullSize: boolean): void {
    const threshold = this.slowThresholdMs();
    if (ms > threshold) {
      if (this.o.suspects.add(first, count, ms)) {
        this.o.log.warn("scan: slow read, range is suspect", {
          firstBlock: first,
          countBlocks: count,
          ms: Math.round(ms),
        });
        this.o.onFinding?.({
          at: this.o.clock.now(),
          block: first,
          kind: "suspect",
          source: "scan",
        });
      }
      return;
    }
    if (fullSize) this.latency.observe(ms);
  }
}
