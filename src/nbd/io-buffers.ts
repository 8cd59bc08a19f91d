// Buffers of one connection's READ replies and WRITE payloads, without a fresh ArrayBuffer each:
// small replies are slices of a shared slab; large buffers are reused once nothing references them.

/** Replies up to this size are carved from slabs. */
const SLAB_BYTES = 256 * 1024;
const SLAB_MAX_REPLY_BYTES = SLAB_BYTES / 8;
/** Large buffers kept for reuse, per connection (enough for a queue depth of 16 at one size). */
const MAX_POOLED = 16;
/** Larger replies are never pooled. */
const MAX_POOLED_BYTES = 8 * 1024 * 1024;

/** I/O buffers of one connection. Not shared between connections. */
export class IoBuffers {
  private slab = Buffer.alloc(0);
  private slabUsed = 0;
  /** Free large buffers by exact length (clients use few distinct sizes). */
  private readonly free = new Map<number, Buffer[]>();
  private pooled = 0;

  /**
   * A buffer of `bytes`. Slab slices are never handed out twice (a full slab is replaced, and freed
   * by GC after its last reply is written); large buffers come back only through recycle().
   */
  take(bytes: number): Buffer {
    if (bytes <= SLAB_MAX_REPLY_BYTES) {
      if (this.slabUsed + bytes > this.slab.length) {
        this.slab = Buffer.allocUnsafe(SLAB_BYTES);
        this.slabUsed = 0;
      }
      const buf = this.slab.subarray(this.slabUsed, this.slabUsed + bytes);
      this.slabUsed += (bytes + 7) & ~7;
      return buf;
    }
    const list = this.free.get(bytes);
    const reused = list?.pop();
    if (reused) {
      this.pooled--;
      return reused;
    }
    return Buffer.allocUnsafe(bytes);
  }

  /** True when buffers of `bytes` come from the pool (and should go back through recycle()). */
  pooledSize(bytes: number): boolean {
    return bytes > SLAB_MAX_REPLY_BYTES && bytes <= MAX_POOLED_BYTES;
  }

  /** True when `buf` should be handed to recycle() once nothing references it any more. */
  recyclable(buf: Buffer): boolean {
    return this.pooledSize(buf.length);
  }

  /** Give back a large buffer that nothing references any more (socket write or device write done). */
  recycle(buf: Buffer): void {
    if (!this.recyclable(buf) || this.pooled >= MAX_POOLED) return;
    let list = this.free.get(buf.length);
    if (!list) this.free.set(buf.length, (list = []));
    list.push(buf);
    this.pooled++;
  }
}
