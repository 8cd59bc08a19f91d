// Buffers of one connection's replies and WRITE payloads, without a fresh ArrayBuffer each: tiny
// replies are slices of a shared slab; data buffers (READ replies, WRITE payloads) are pooled by size.

/** Slab that tiny replies (headers, errors) are carved from. */
const SLAB_BYTES = 64 * 1024;
const SLAB_MAX_BYTES = 1024;
/** Data buffers larger than this are never pooled. */
const MAX_POOLED_BYTES = 8 * 1024 * 1024;
/** Free data buffers kept per connection, in bytes (e.g. 4,096 of 4 KiB or 16 of 1 MiB). */
const MAX_POOL_BYTES = 16 * 1024 * 1024;

/** I/O buffers of one connection. Not shared between connections. */
export class IoBuffers {
  private slab = Buffer.alloc(0);
  private slabUsed = 0;
  /** Free data buffers by exact length (clients use few distinct sizes). */
  private readonly free = new Map<number, Buffer[]>();
  private poolBytes = 0;

  /**
   * A tiny reply buffer (up to 1 KiB) sliced from the slab. Slices are never handed out twice: a full
   * slab is replaced, and freed by GC after its last reply is written.
   */
  take(bytes: number): Buffer {
    if (bytes > SLAB_MAX_BYTES) return Buffer.allocUnsafe(bytes);
    if (this.slabUsed + bytes > this.slab.length) {
      this.slab = Buffer.allocUnsafe(SLAB_BYTES);
      this.slabUsed = 0;
    }
    const buf = this.slab.subarray(this.slabUsed, this.slabUsed + bytes);
    this.slabUsed += (bytes + 7) & ~7;
    return buf;
  }

  /**
   * A data buffer of `bytes` (a READ reply or a WRITE payload; its own memory, never a slab slice),
   * reused from the pool when one came back through recyclePayload().
   */
  takePayload(bytes: number): Buffer {
    const reused = this.free.get(bytes)?.pop();
    if (reused) {
      this.poolBytes -= bytes;
      return reused;
    }
    return bytes === 0 ? Buffer.alloc(0) : Buffer.allocUnsafeSlow(bytes);
  }

  /**
   * Give back a buffer from takePayload() that nothing references any more (the device consumed the
   * payload, or the socket took the reply).
   */
  recyclePayload(buf: Buffer): void {
    const bytes = buf.length;
    if (bytes === 0 || bytes > MAX_POOLED_BYTES || this.poolBytes + bytes > MAX_POOL_BYTES) return;
    let list = this.free.get(bytes);
    if (!list) this.free.set(bytes, (list = []));
    list.push(buf);
    this.poolBytes += bytes;
  }
}
