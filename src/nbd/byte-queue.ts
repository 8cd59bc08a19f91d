// Receive buffer for a stream: a list of chunks plus a read offset, so framing survives any
// chunking without re-concatenating the whole buffer (no quadratic copying). A chunk may be borrowed
// (a socket's reusable read buffer): it is copied only if bytes of it are still queued at release().

/** FIFO of received bytes with zero-copy takes when a frame lies inside one chunk. */
export class ByteQueue {
  private chunks: Buffer[] = [];
  private head = 0;
  private headOffset = 0;
  /** Bytes currently queued. */
  length = 0;
  /** The last pushed chunk when it is borrowed: its memory is reused after release(). */
  private borrowed: Buffer | undefined;

  /** Append a received chunk (kept by reference). */
  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  /**
   * Append a chunk whose memory the caller reuses once release() returns: takes copy out of it, and
   * release() copies whatever of it is still queued (normally a partial request header).
   */
  pushBorrowed(chunk: Buffer): void {
    this.release();
    if (chunk.length === 0) return;
    this.push(chunk);
    this.borrowed = chunk;
  }

  /** End of the borrow: the unconsumed rest of the borrowed chunk (if any) becomes an owned copy. */
  release(): void {
    const b = this.borrowed;
    if (!b) return;
    this.borrowed = undefined;
    // Only the last chunk can still point into it (peek() may have replaced it by a sub-view).
    const last = this.chunks.length - 1;
    const c = this.chunks[last];
    if (last < this.head || c === undefined || c.buffer !== b.buffer) return;
    const from = last === this.head ? this.headOffset : 0;
    this.chunks[last] = Buffer.from(c.subarray(from));
    if (last === this.head) this.headOffset = 0;
  }

  /**
   * Return the next `n` bytes without consuming them, as one Buffer; copies only when they span
   * chunks (the copy then replaces those chunks, so repeated peeks are cheap). Requires n <= length.
   */
  peek(n: number): Buffer {
    const first = this.chunks[this.head]!;
    if (first.length - this.headOffset >= n) return first.subarray(this.headOffset, this.headOffset + n);
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    let i = this.head;
    let off = this.headOffset;
    while (filled < n) {
      const c = this.chunks[i]!;
      const take = Math.min(c.length - off, n - filled);
      c.copy(out, filled, off, off + take);
      filled += take;
      if (off + take === c.length) {
        i++;
        off = 0;
      } else off += take;
    }
    // Replace the consumed span with the merged buffer plus the remainder of the last chunk.
    const rest = i < this.chunks.length && off > 0 ? this.chunks[i]!.subarray(off) : undefined;
    const tailStart = rest ? i + 1 : i;
    const merged = rest ? [out, rest] : [out];
    this.chunks = merged.concat(this.chunks.slice(tailStart));
    this.head = 0;
    this.headOffset = 0;
    return out;
  }

  /** The chunk the last frame() found its bytes in. */
  frameChunk: Buffer = Buffer.alloc(0);

  /**
   * Like peek(), without making a view: the next `n` bytes are `frameChunk` from the returned offset
   * on (merged into one chunk first when they span chunks). Requires n <= length.
   */
  frame(n: number): number {
    const first = this.chunks[this.head]!;
    if (first.length - this.headOffset >= n) {
      this.frameChunk = first;
      return this.headOffset;
    }
    this.frameChunk = this.peek(n);
    return 0;
  }

  /**
   * The next `n` bytes as a view, without consuming them, when they lie in one chunk; undefined when
   * they span chunks (nothing is copied). The view of a borrowed chunk is valid until release().
   */
  contiguous(n: number): Buffer | undefined {
    const first = this.chunks[this.head];
    if (first === undefined || first.length - this.headOffset < n) return undefined;
    return first.subarray(this.headOffset, this.headOffset + n);
  }

  /** Consume and return the next `n` bytes (zero-copy when inside one chunk). Requires n <= length. */
  take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    let out = this.peek(n);
    // A view into a borrowed chunk would change under its holder: hand out a copy.
    if (this.borrowed && out.buffer === this.borrowed.buffer) out = Buffer.from(out);
    this.skip(n);
    return out;
  }

  /** Consume `target.length` bytes into `target` (one copy). Requires target.length <= length. */
  takeInto(target: Uint8Array): void {
    let filled = 0;
    while (filled < target.length) {
      const c = this.chunks[this.head]!;
      const n = Math.min(c.length - this.headOffset, target.length - filled);
      target.set(c.subarray(this.headOffset, this.headOffset + n), filled);
      filled += n;
      this.skip(n);
    }
  }

  /** Drop up to `n` bytes; returns how many were dropped. */
  skip(n: number): number {
    let left = Math.min(n, this.length);
    const dropped = left;
    while (left > 0) {
      const c = this.chunks[this.head]!;
      const avail = c.length - this.headOffset;
      if (avail > left) {
        this.headOffset += left;
        left = 0;
      } else {
        left -= avail;
        this.head++;
        this.headOffset = 0;
      }
    }
    this.length -= dropped;
    if (this.head > 64 || this.head === this.chunks.length) {
      this.chunks = this.chunks.slice(this.head);
      this.head = 0;
    }
    return dropped;
  }

  /** Discard everything. */
  clear(): void {
    this.borrowed = undefined;
    this.chunks = [];
    this.head = 0;
    this.headOffset = 0;
    this.length = 0;
  }

  /** Remove and return all queued chunks (used when handing a socket over to TLS). */
  drain(): Buffer[] {
    this.release();
    const out = this.chunks.slice(this.head);
    if (out.length > 0 && this.headOffset > 0) out[0] = out[0]!.subarray(this.headOffset);
    this.clear();
    return out;
  }
}
