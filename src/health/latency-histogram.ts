// A fixed-size log-bucketed latency histogram: constant memory, quantiles within ~9 % (8 buckets per
// power of two), and decay so it follows a device whose latency drifts.

const MIN_MS = 0.001;
const BUCKETS_PER_OCTAVE = 8;
const BUCKETS = 32 * BUCKETS_PER_OCTAVE;

/** Streaming latency distribution in milliseconds. */
export class LatencyHistogram {
  private readonly counts = new Float64Array(BUCKETS);
  private total = 0;

  /** Number of observations (after decay, possibly fractional). */
  get count(): number {
    return this.total;
  }

  /** Add one observation. */
  observe(ms: number): void {
    this.counts[bucketOf(ms)]! += 1;
    this.total += 1;
  }

  /** The `q` quantile (0..1) in ms; 0 when empty. Upper edge of the bucket, so it errs slow. */
  quantile(q: number): number {
    if (this.total <= 0) return 0;
    const want = q * this.total;
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= want && this.counts[i]! > 0) return upperEdge(i);
    }
    return upperEdge(BUCKETS - 1);
  }

  /** Multiply every count by `factor` (0..1): old observations weigh less. */
  decay(factor: number): void {
    for (let i = 0; i < BUCKETS; i++) this.counts[i]! *= factor;
    this.total *= factor;
  }

  /** Forget everything. */
  clear(): void {
    this.counts.fill(0);
    this.total = 0;
  }
}

function bucketOf(ms: number): number {
  if (!(ms > MIN_MS)) return 0;
  const i = Math.floor(Math.log2(ms / MIN_MS) * BUCKETS_PER_OCTAVE);
  return Math.min(BUCKETS - 1, i);
}

function upperEdge(bucket: number): number {
  return MIN_MS * 2 ** ((bucket + 1) / BUCKETS_PER_OCTAVE);
}
