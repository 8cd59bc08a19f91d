// Allocation of READ reply buffers for one connection, without a fresh ArrayBuffer per reply:
// small replies are slices of a shared slab, large ones are reused once the socket has taken them.

/** Replies up to this size are carved from slabs. */
const SLAB_BYTES = 256 * 1024;
const SLAB_MAX_REPLY_BYTES = SLAB_BYTES / 8;
/** Large buffers kept for reuse, per connection (enough for a queue depth of 16 at one size). */
const MAX_POOLED = 16;
/** Larger replies are never pooled. */
const MAX_POOLED_BYTES = 8 * 1024 * 1024;

/** Reply buffers of one connection. Not shared between connections. */
export class ReplyBuffers {
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

  /** True when `buf` should be handed to recycle() once the socket no longer needs it. */
  recyclable(buf: Buffer): boolean {
    return buf.length > SLAB_MAX_REPLY_BYTES && buf.length <= MAX_POOLED_BYTES;
  }

  /** Give back a large buffer that nothing references any more (its write has completed). */
  recycle(buf: Buffer): void {
    if (!this.recyclable(buf) || this.pooled >= MAX_POOLED) return;
    let list = this.free.get(buf.length);
    if (!list) this.free.set(buf.length, (list = []));
    list.push(buf);
    this.pooled++;
  }
}
