// In-memory map block -> global spare slot for millions of entries: sorted typed arrays plus a small
// sorted delta buffer (merged in place when full), with a radix directory over the sorted arrays.
// 20-32 bytes per entry; lookups and range queries touch one bucket (O(1) for spread-out keys). Bit
// filters over the delta buffer and over the main arrays answer "not in the table" for a single block
// with one memory access: most requests of a served device touch no remapped block.

/** Value stored for deleted entries of the main arrays (never a valid slot). */
const TOMBSTONE = 0xffffffff;
const DEFAULT_DELTA_CAPACITY = 1024;
/**
 * Bits of the delta filter: block b sets bit (b mod DELTA_FILTER_BITS) while it is in the delta (the
 * bit stays set after a delete until the next merge). With the delta full (1024 blocks) at most 1/64
 * of the bits are set, so a lookup of a block not in the delta skips its binary search (10 probes
 * of 1024 keys, about 30 ns; docs/PERFORMANCE.md) at least 63 times in 64. 8 KiB per table.
 */
const DELTA_FILTER_BITS = 1 << 16;

/** Bits per entry of the main filter (about 3 % of absent blocks pass it), within the bounds below. */
const MAIN_FILTER_BITS_PER_ENTRY = 32;
const MAIN_FILTER_MIN_BITS = 1 << 16;
const MAIN_FILTER_MAX_BITS = 1 << 27;

/** Bit of `block` in a main filter of 2^(32 - shift) bits: a multiplicative hash of its 53 bits. */
function mainFilterBit(block: number, shift: number): number {
  return Math.imul((block >>> 0) ^ Math.floor(block / 0x100000000), 0x9e3779b1) >>> shift;
}

/** Bit of `block` in the delta filter: its low 16 bits (`&` sees the low 32 bits of any safe integer). */
function filterBit(block: number): number {
  return block & (DELTA_FILTER_BITS - 1);
}

/** Index of the first element of `keys[from..n)` that is >= `key` (`keys` ascending there). */
export function lowerBound(keys: Float64Array, n: number, key: number, from = 0): number {
  let lo = from;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid]! < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** A sorted, typed-array backed map from block number to a 32-bit value (a slot; < 0xffffffff). */
export class RemapTable {
  private keys: Float64Array;
  private values: Uint32Array;
  /**
   * Radix directory over the main arrays (rebuilt at merge): keys of bucket b = floor(key / bucketWidth)
   * sit at indexes [directory[b], directory[b + 1]). At most one bucket per entry, so ~4 bytes/entry.
   */
  private directory = new Uint32Array(1);
  private buckets = 0;
  private bucketWidth = 1;
  /** Used length of keys/values, tombstones included. */
  private mainLength = 0;
  private tombstones = 0;
  private readonly deltaKeys: Float64Array;
  private readonly deltaValues: Uint32Array;
  private deltaLength = 0;
  /** Delta filter: bit filterBit(b) is set for every block b of the delta (and maybe others). */
  private readonly deltaFilter = new Uint32Array(DELTA_FILTER_BITS / 32);
  private live = 0;
  /**
   * Main filter (brought up to date at each merge): bit mainFilterBit(b) is set for every block b of the
   * main arrays, tombstones included. A served request touches one block, and with thousands of
   * remaps the directory, key and value probes of a lookup are cache misses that cost more than the
   * lookup itself (docs/PERFORMANCE.md): the filter turns most of them into one access.
   */
  private mainFilter = new Uint32Array(0);
  private mainFilterShift = 32;
  /** Keys dropped from the main arrays since the main filter was last built (their bits stay set). */
  private mainFilterStale = 0;

  constructor(private readonly deltaCapacity = DEFAULT_DELTA_CAPACITY) {
    this.keys = new Float64Array(0);
    this.values = new Uint32Array(0);
    this.deltaKeys = new Float64Array(deltaCapacity);
    this.deltaValues = new Uint32Array(deltaCapacity);
  }

  /** Build from sorted, strictly increasing blocks and their values (e.g. a TableSnapshot). */
  static fromSorted(blocks: Float64Array, values: Uint32Array): RemapTable {
    if (blocks.length !== values.length) {
      throw new RangeError(`table has ${blocks.length} blocks but ${values.length} slots`);
    }
    for (let i = 0; i < blocks.length; i++) {
      const block = blocks[i]!;
      if (!Number.isSafeInteger(block) || block < 0) throw new RangeError(`table block ${block} is invalid`);
      if (i > 0 && block <= blocks[i - 1]!) throw new RangeError(`table blocks are not sorted at ${block}`);
      if (values[i] === TOMBSTONE) throw new RangeError(`table value for block ${block} is out of range`);
    }
    const table = new RemapTable();
    table.keys = Float64Array.from(blocks);
    table.values = Uint32Array.from(values);
    table.mainLength = blocks.length;
    table.live = blocks.length;
    table.buildDirectory();
    table.buildMainFilter();
    return table;
  }

  /** Number of entries. */
  get size(): number {
    return this.live;
  }

  /** Bytes held by the typed arrays (the table's memory footprint). */
  get byteLength(): number {
    return (
      this.keys.byteLength +
      this.values.byteLength +
      this.directory.byteLength +
      this.deltaKeys.byteLength +
      this.deltaValues.byteLength +
      this.deltaFilter.byteLength +
      this.mainFilter.byteLength
    );
  }

  /** Value of `block`, or -1 when absent. */
  get(block: number): number {
    if (this.live === 0) return -1;
    if (this.deltaLength > 0 && this.mayBeInDelta(block)) {
      const j = lowerBound(this.deltaKeys, this.deltaLength, block);
      if (j < this.deltaLength && this.deltaKeys[j] === block) return this.deltaValues[j]!;
    }
    if (!this.mayBeInMain(block)) return -1;
    const i = this.mainLowerBound(block);
    if (i < this.mainLength && this.keys[i] === block) {
      const value = this.values[i]!;
      return value === TOMBSTONE ? -1 : value;
    }
    return -1;
  }

  /** True when `block` has an entry. */
  has(block: number): boolean {
    return this.get(block) >= 0;
  }

  /** Insert or replace the entry of `block`. */
  set(block: number, value: number): void {
    if (!(value >= 0 && value < TOMBSTONE && Number.isInteger(value))) {
      throw new RangeError(`table value ${value} is out of range`);
    }
    const j = lowerBound(this.deltaKeys, this.deltaLength, block);
    if (j < this.deltaLength && this.deltaKeys[j] === block) {
      this.deltaValues[j] = value;
      return;
    }
    const i = this.mainLowerBound(block);
    if (i < this.mainLength && this.keys[i] === block) {
      if (this.values[i] === TOMBSTONE) {
        this.tombstones--;
        this.live++;
      }
      this.values[i] = value;
      return;
    }
    this.deltaKeys.copyWithin(j + 1, j, this.deltaLength);
    this.deltaValues.copyWithin(j + 1, j, this.deltaLength);
    this.deltaKeys[j] = block;
    this.deltaValues[j] = value;
    const bit = filterBit(block);
    this.deltaFilter[bit >>> 5]! |= 1 << (bit & 31);
    this.deltaLength++;
    this.live++;
    if (this.deltaLength === this.deltaCapacity) this.merge();
  }

  /** Remove the entry of `block`; returns whether it existed. */
  delete(block: number): boolean {
    const j = lowerBound(this.deltaKeys, this.deltaLength, block);
    if (j < this.deltaLength && this.deltaKeys[j] === block) {
      this.deltaKeys.copyWithin(j, j + 1, this.deltaLength);
      this.deltaValues.copyWithin(j, j + 1, this.deltaLength);
      this.deltaLength--;
      this.live--;
      return true;
    }
    const i = this.mainLowerBound(block);
    if (i < this.mainLength && this.keys[i] === block && this.values[i] !== TOMBSTONE) {
      this.values[i] = TOMBSTONE;
      this.tombstones++;
      this.live--;
      if (this.tombstones >= this.deltaCapacity) this.merge();
      return true;
    }
    return false;
  }

  /** The smallest block with an entry in [startBlock, endBlock), or -1. */
  firstInRange(startBlock: number, endBlock: number): number {
    if (this.live === 0) return -1;
    let best = -1;
    if (endBlock - startBlock !== 1 || this.mayBeInMain(startBlock)) {
      let i = this.mainLowerBound(startBlock);
      while (i < this.mainLength && this.values[i] === TOMBSTONE) i++;
      if (i < this.mainLength && this.keys[i]! < endBlock) best = this.keys[i]!;
    }
    // A one-block range (the usual request) asks the filter first.
    if (this.deltaLength > 0 && (endBlock - startBlock !== 1 || this.mayBeInDelta(startBlock))) {
      const j = lowerBound(this.deltaKeys, this.deltaLength, startBlock);
      if (j < this.deltaLength && this.deltaKeys[j]! < endBlock && (best < 0 || this.deltaKeys[j]! < best)) {
        best = this.deltaKeys[j]!;
      }
    }
    return best;
  }

  /** Visit entries in ascending block order (from `fromBlock`); stop early when `visit` returns false. */
  forEach(visit: (block: number, value: number) => boolean | void, fromBlock = 0): void {
    this.merge();
    for (let i = this.mainLowerBound(fromBlock); i < this.mainLength; i++) {
      if (visit(this.keys[i]!, this.values[i]!) === false) return;
    }
  }

  /** Sorted copies of every block and value (for checkpoints). */
  toSnapshot(): { blocks: Float64Array; slots: Uint32Array } {
    this.merge();
    return { blocks: this.keys.slice(0, this.mainLength), slots: this.values.slice(0, this.mainLength) };
  }

  /** False when `block` is surely not in the delta buffer. */
  private mayBeInDelta(block: number): boolean {
    const bit = filterBit(block);
    return (this.deltaFilter[bit >>> 5]! & (1 << (bit & 31))) !== 0;
  }

  /** False when `block` is surely not in the main arrays. */
  private mayBeInMain(block: number): boolean {
    if (this.mainLength === 0) return false;
    const bit = mainFilterBit(block, this.mainFilterShift);
    return (this.mainFilter[bit >>> 5]! & (1 << (bit & 31))) !== 0;
  }

  /** Bits of the main filter for `n` entries: MAIN_FILTER_BITS_PER_ENTRY each, a power of two. */
  private static mainFilterBits(n: number): number {
    let bits = MAIN_FILTER_MIN_BITS;
    while (bits < n * MAIN_FILTER_BITS_PER_ENTRY && bits < MAIN_FILTER_MAX_BITS) bits *= 2;
    return bits;
  }

  private setMainFilterBit(block: number): void {
    const bit = mainFilterBit(block, this.mainFilterShift);
    this.mainFilter[bit >>> 5]! |= 1 << (bit & 31);
  }

  /** The main filter over keys[0..mainLength), built afresh. */
  private buildMainFilter(): void {
    const bits = RemapTable.mainFilterBits(this.mainLength);
    if (this.mainFilter.length === bits / 32) this.mainFilter.fill(0);
    else this.mainFilter = new Uint32Array(bits / 32);
    this.mainFilterShift = 32 - Math.log2(bits);
    this.mainFilterStale = 0;
    for (let i = 0; i < this.mainLength; i++) this.setMainFilterBit(this.keys[i]!);
  }

  /**
   * The main filter after a merge that dropped `dropped` tombstones and folded in the delta's
   * `added` keys: only their bits are set while the filter keeps its size and at most a quarter of
   * the entries are stale bits; otherwise it is built afresh (a full build at every merge made
   * inserts into a table of 1,000,000 entries 40 % slower).
   */
  private updateMainFilter(added: Float64Array, dropped: number): void {
    const stale = this.mainFilterStale + dropped;
    const resized = RemapTable.mainFilterBits(this.mainLength) / 32 !== this.mainFilter.length;
    if (resized || stale > this.mainLength / 4) return this.buildMainFilter();
    this.mainFilterStale = stale;
    for (const block of added) this.setMainFilterBit(block);
  }

  /** lowerBound over the main arrays, narrowed to one radix bucket first. */
  private mainLowerBound(key: number): number {
    const b = Math.floor(key / this.bucketWidth);
    if (b >= this.buckets) return this.mainLength;
    if (b < 0) return 0;
    return lowerBound(this.keys, this.directory[b + 1]!, key, this.directory[b]!);
  }

  private buildDirectory(): void {
    const n = this.mainLength;
    if (n === 0) {
      this.buckets = 0;
      return;
    }
    // The narrowest power-of-two bucket width that needs no more buckets than entries.
    const maxKey = this.keys[n - 1]!;
    let width = 1;
    while (Math.floor(maxKey / width) + 1 > n) width *= 2;
    this.bucketWidth = width;
    this.buckets = Math.floor(maxKey / width) + 1;
    if (this.directory.length < this.buckets + 1)
      this.directory = new Uint32Array(Math.max(this.buckets + 1, this.keys.length + 1));
    let i = 0;
    for (let b = 0; b <= this.buckets; b++) {
      while (i < n && Math.floor(this.keys[i]! / width) < b) i++;
      this.directory[b] = i;
    }
  }

  /** Fold the delta buffer and drop tombstones, in place (capacity grows by 1.5x when needed). */
  private merge(): void {
    if (this.deltaLength === 0 && this.tombstones === 0) return;
    const dropped = this.tombstones;
    const added = this.deltaKeys.subarray(0, this.deltaLength);
    let keys = this.keys;
    let values = this.values;
    if (this.tombstones > 0) {
      let w = 0;
      for (let r = 0; r < this.mainLength; r++) {
        if (values[r] === TOMBSTONE) continue;
        keys[w] = keys[r]!;
        values[w++] = values[r]!;
      }
      this.mainLength = w;
      this.tombstones = 0;
    }
    const total = this.mainLength + this.deltaLength;
    if (total > keys.length) {
      const capacity = Math.max(total, Math.ceil(keys.length * 1.5), this.deltaCapacity);
      keys = new Float64Array(capacity);
      values = new Uint32Array(capacity);
      keys.set(this.keys.subarray(0, this.mainLength));
      values.set(this.values.subarray(0, this.mainLength));
      this.keys = keys;
      this.values = values;
    }
    // Merge from the back so nothing below the smallest delta key moves.
    let i = this.mainLength - 1;
    let j = this.deltaLength - 1;
    let w = total - 1;
    while (j >= 0) {
      if (i >= 0 && keys[i]! > this.deltaKeys[j]!) {
        keys[w] = keys[i]!;
        values[w--] = values[i--]!;
      } else {
        keys[w] = this.deltaKeys[j]!;
        values[w--] = this.deltaValues[j--]!;
      }
    }
    this.mainLength = total;
    this.updateMainFilter(added, dropped);
    this.deltaLength = 0;
    this.deltaFilter.fill(0);
    this.buildDirectory();
  }
}
