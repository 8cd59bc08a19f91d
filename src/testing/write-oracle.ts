// Byte-level oracle of a block device's data under crashes: what reads must return now (the last
// acknowledged writes) and what they may return after a power cut (the content guaranteed by the
// last acknowledged FLUSH/FUA, or any write issued after it). A sector holding unknown bytes may
// read as EIO until one write covers it whole (lost sectors are tracked per 512-byte sector).
const SECTOR = 512;

/** A write the oracle has seen issued and not yet folded into the durable image. */
export interface OracleWrite {
  readonly id: number;
  readonly offsetBytes: number;
  readonly data: Uint8Array;
  acked: boolean;
}

/** Ids of the writes acknowledged before a flush was issued; pass back to ackFlush(). */
export type FlushToken = ReadonlySet<number>;

/**
 * Oracle for writes whose byte ranges are serial (a write to a byte is issued only after the previous
 * write to that byte was acknowledged); requests on disjoint ranges may run concurrently.
 */
export class WriteOracle {
  /** Last acknowledged content; known[i] = 0 where the content is unknown (never-written bad media). */
  readonly current: Uint8Array;
  readonly currentKnown: Uint8Array;
  /** Content that survives any crash. */
  readonly durable: Uint8Array;
  readonly durableKnown: Uint8Array;
  /** Per 512-byte sector: 1 while it may read as EIO (unknown bytes, not yet rewritten whole). */
  readonly currentTaint: Uint8Array;
  readonly durableTaint: Uint8Array;
  private volatile: OracleWrite[] = [];
  private nextId = 1;

  /** `unknown`: byte ranges whose initial content is unreadable (e.g. bad blocks of main). */
  constructor(
    readonly sizeBytes: number,
    unknown: readonly { offsetBytes: number; lengthBytes: number }[] = [],
  ) {
    this.current = new Uint8Array(sizeBytes);
    this.durable = new Uint8Array(sizeBytes);
    this.currentKnown = new Uint8Array(sizeBytes).fill(1);
    for (const r of unknown) this.currentKnown.fill(0, r.offsetBytes, r.offsetBytes + r.lengthBytes);
    this.durableKnown = this.currentKnown.slice();
    this.currentTaint = new Uint8Array(Math.ceil(sizeBytes / SECTOR));
    for (let s = 0; s < this.currentTaint.length; s++)
      this.currentTaint[s] = this.currentKnown.subarray(s * SECTOR, (s + 1) * SECTOR).includes(0) ? 1 : 0;
    this.durableTaint = this.currentTaint.slice();
  }

  /** A frozen copy (the workload goes on while crash states of this moment are checked). */
  clone(): WriteOracle {
    const copy = new WriteOracle(this.sizeBytes);
    copy.current.set(this.current);
    copy.currentKnown.set(this.currentKnown);
    copy.durable.set(this.durable);
    copy.durableKnown.set(this.durableKnown);
    copy.currentTaint.set(this.currentTaint);
    copy.durableTaint.set(this.durableTaint);
    copy.volatile = this.volatile.map((w) => ({ ...w }));
    copy.nextId = this.nextId;
    return copy;
  }

  /** Writes not yet guaranteed durable (crash candidates). */
  get volatileWrites(): readonly OracleWrite[] {
    return this.volatile;
  }

  /** A write is being issued: from now on a crash may expose it. */
  begin(offsetBytes: number, data: Uint8Array): OracleWrite {
    const w: OracleWrite = { id: this.nextId++, offsetBytes, data: data.slice(), acked: false };
    this.volatile.push(w);
    return w;
  }

  /** The write was acknowledged (with FUA: it is durable now). */
  ack(w: OracleWrite, fua: boolean): void {
    w.acked = true;
    this.current.set(w.data, w.offsetBytes);
    this.currentKnown.fill(1, w.offsetBytes, w.offsetBytes + w.data.length);
    untaint(this.currentTaint, w.offsetBytes, w.data.length);
    if (fua) this.fold([w], true);
  }

  /** A flush is being issued: it covers the writes acknowledged so far. */
  beginFlush(): FlushToken {
    return new Set(this.volatile.filter((w) => w.acked).map((w) => w.id));
  }

  /** The flush was acknowledged: its writes are durable. */
  ackFlush(token: FlushToken): void {
    // What is left of them: a FUA write acknowledged meanwhile may have superseded parts.
    this.fold(
      this.volatile.filter((w) => token.has(w.id)),
      false,
    );
  }

  private fold(writes: readonly OracleWrite[], supersede: boolean): void {
    const folded = new Set(writes);
    for (const w of writes) {
      this.durable.set(w.data, w.offsetBytes);
      this.durableKnown.fill(1, w.offsetBytes, w.offsetBytes + w.data.length);
      untaint(this.durableTaint, w.offsetBytes, w.data.length);
    }
    this.volatile = this.volatile.filter((w) => !folded.has(w));
    if (!supersede) return;
    // A FUA write hides the older cached writes it overlaps (they can no longer surface).
    for (const f of writes) {
      const from = f.offsetBytes;
      const to = from + f.data.length;
      this.volatile = this.volatile.flatMap((w) => {
        const end = w.offsetBytes + w.data.length;
        if (w.id > f.id || end <= from || w.offsetBytes >= to) return [w];
        const parts: OracleWrite[] = [];
        if (w.offsetBytes < from) parts.push({ ...w, data: w.data.subarray(0, from - w.offsetBytes) });
        if (end > to) parts.push({ ...w, offsetBytes: to, data: w.data.subarray(to - w.offsetBytes) });
        return parts;
      });
    }
  }

  /** True if a sector touched by [offsetBytes, +lengthBytes) is tainted. */
  private unknownIn(taint: Uint8Array, offsetBytes: number, lengthBytes: number): boolean {
    const from = Math.floor(offsetBytes / SECTOR);
    const to = Math.ceil((offsetBytes + lengthBytes) / SECTOR);
    return taint.subarray(from, to).includes(1);
  }

  /** Check a read now (no crash): `got` is the data or the error; returns a problem or undefined. */
  checkLive(offsetBytes: number, got: Uint8Array | Error): string | undefined {
    const end = offsetBytes + (got instanceof Error ? 0 : got.length);
    if (got instanceof Error) return undefined; // callers check errors with mayFailLive
    for (let i = offsetBytes; i < end; i++) {
      if (this.currentKnown[i] && got[i - offsetBytes] !== this.current[i])
        return `live read at byte ${i}: got ${got[i - offsetBytes]}, last write has ${this.current[i]}`;
    }
    return undefined;
  }

  /** May a read of [offsetBytes, +lengthBytes) fail now (some sector holds unknown data)? */
  mayFailLive(offsetBytes: number, lengthBytes: number): boolean {
    return this.unknownIn(this.currentTaint, offsetBytes, lengthBytes);
  }

  /** May a read of [offsetBytes, +lengthBytes) fail after a crash (unknown data is a candidate)? */
  mayFailAfterCrash(offsetBytes: number, lengthBytes: number): boolean {
    return this.unknownIn(this.durableTaint, offsetBytes, lengthBytes);
  }

  /** Check data read after a crash: every byte is its durable value or one of a later write. */
  checkAfterCrash(offsetBytes: number, got: Uint8Array): string | undefined {
    const end = offsetBytes + got.length;
    const durable = this.durable.subarray(offsetBytes, end);
    if (Buffer.from(got.buffer, got.byteOffset, got.length).equals(durable)) {
      if (!this.durableKnown.subarray(offsetBytes, end).includes(0)) return undefined;
    }
    for (let i = offsetBytes; i < end; i++) {
      const v = got[i - offsetBytes]!;
      if (this.durableKnown[i] && v === this.durable[i]) continue;
      const ok = this.volatile.some(
        (w) => i >= w.offsetBytes && i < w.offsetBytes + w.data.length && w.data[i - w.offsetBytes] === v,
      );
      if (ok) continue;
      const what = this.durableKnown[i] ? `flushed value ${this.durable[i]}` : "unknown data (EIO)";
      return `byte ${i} reads ${v} after the crash; expected ${what} or a later write (${this.volatile.length} unflushed)`;
    }
    return undefined;
  }
}

/** Clear the taint of the sectors that [offsetBytes, +lengthBytes) covers whole. */
function untaint(taint: Uint8Array, offsetBytes: number, lengthBytes: number): void {
  taint.fill(0, Math.ceil(offsetBytes / SECTOR), Math.floor((offsetBytes + lengthBytes) / SECTOR));
}
