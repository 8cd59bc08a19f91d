// A set of block ranges kept as sorted, merged intervals (memory grows with the number of ranges,
// never with the size of the disk).

/** Sorted disjoint half-open intervals [start, end). */
export class IntervalSet {
  private starts: number[] = [];
  private ends: number[] = [];

  /** Add [start, end), merging with neighbours it touches. */
  add(start: number, end: number): void {
    if (end <= start) return;
    let i = 0;
    while (i < this.starts.length && this.ends[i]! < start) i++;
    let j = i;
    let s = start;
    let e = end;
    while (j < this.starts.length && this.starts[j]! <= end) {
      s = Math.min(s, this.starts[j]!);
      e = Math.max(e, this.ends[j]!);
      j++;
    }
    this.starts.splice(i, j - i, s);
    this.ends.splice(i, j - i, e);
  }

  /** Is all of [start, end) in the set? */
  covers(start: number, end: number): boolean {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.starts[mid]! <= start) lo = mid + 1;
      else hi = mid - 1;
    }
    return hi >= 0 && this.ends[hi]! >= end;
  }

  /** Number of intervals. */
  get size(): number {
    return this.starts.length;
  }

  clear(): void {
    this.starts = [];
    this.ends = [];
  }
}
