// A pool of memory-aligned bounce buffers for O_DIRECT I/O, carved from WebAssembly.Memory instances.
// V8 maps each Memory's backing store with mmap, so it starts on a page boundary (measured: 64 KiB).

/** Size of a WebAssembly page: Memory sizes are whole pages. */
const WASM_PAGE_BYTES = 65536;
/** Memory alignment every chunk is guaranteed to have (chunk sizes are multiples of it). */
export const BUFFER_ALIGNMENT_BYTES = 4096;
/** Default chunk size: larger requests are split into pieces of at most this many bytes. */
export const ALIGNED_CHUNK_BYTES = 1 << 20;

/** Options of an aligned buffer pool. */
export interface AlignedBufferPoolOptions {
  /** Bytes per chunk, a positive multiple of 4096 (default 1 MiB). */
  readonly chunkBytes?: number;
  /** Most chunks the pool ever allocates; acquire() waits when all are in use (default 64). */
  readonly maxChunks?: number;
  /** Chunks carved from one Memory (default 8): fewer, larger Memories reserve less address space. */
  readonly chunksPerMemory?: number;
}

/** Counters of a pool. */
export interface AlignedBufferPoolStats {
  readonly chunks: number;
  readonly inUse: number;
  readonly waiting: number;
  readonly memories: number;
}

function positiveInteger(what: string, value: number): number {
  if (!Number.isSafeInteger(value) || value <= 0)
    throw new RangeError(`${what} ${value} is not a positive integer`);
  return value;
}

/**
 * Fixed-size, 4096-aligned chunks, allocated on demand up to a cap and reused. Grows by adding a
 * new Memory, never by memory.grow(), which would detach every chunk handed out so far.
 */
export class AlignedBufferPool {
  readonly chunkBytes: number;
  readonly maxChunks: number;
  private readonly chunksPerMemory: number;
  /** Backing buffers of the chunks this pool made (holding them keeps the Memories alive). */
  private readonly buffers = new Set<ArrayBufferLike>();
  private readonly free: Uint8Array[] = [];
  private readonly waiters: ((chunk: Uint8Array) => void)[] = [];
  private allocated = 0;
  private inUse = 0;

  constructor(options: AlignedBufferPoolOptions = {}) {
    this.chunkBytes = positiveInteger("chunk size", options.chunkBytes ?? ALIGNED_CHUNK_BYTES);
    if (this.chunkBytes % BUFFER_ALIGNMENT_BYTES !== 0) {
      throw new RangeError(`chunk size ${this.chunkBytes} is not a multiple of ${BUFFER_ALIGNMENT_BYTES}`);
    }
    this.maxChunks = positiveInteger("chunk cap", options.maxChunks ?? 64);
    this.chunksPerMemory = positiveInteger("chunks per memory", options.chunksPerMemory ?? 8);
  }

  /** A chunk of `chunkBytes` aligned bytes (old contents); waits while the pool is at its cap. */
  acquire(): Promise<Uint8Array> {
    if (this.free.length === 0 && this.allocated < this.maxChunks) {
      try {
        this.grow();
      } catch (err) {
        return Promise.reject(err);
      }
    }
    const chunk = this.free.pop();
    if (chunk === undefined) return new Promise((resolve) => this.waiters.push(resolve));
    this.inUse++;
    return Promise.resolve(chunk);
  }

  /** Give back a chunk from acquire(); it goes to the longest waiter, if any. */
  release(chunk: Uint8Array): void {
    if (!this.buffers.has(chunk.buffer) || chunk.length !== this.chunkBytes) {
      throw new RangeError("released buffer is not a chunk of this pool");
    }
    const waiter = this.waiters.shift();
    if (waiter !== undefined) {
      waiter(chunk);
      return;
    }
    this.inUse--;
    this.free.push(chunk);
  }

  /** Run `body` with a chunk, releasing it afterwards. */
  async with<T>(body: (chunk: Uint8Array) => Promise<T>): Promise<T> {
    const chunk = await this.acquire();
    try {
      return await body(chunk);
    } finally {
      this.release(chunk);
    }
  }

  /** Live counters. */
  stats(): AlignedBufferPoolStats {
    return {
      chunks: this.allocated,
      inUse: this.inUse,
      waiting: this.waiters.length,
      memories: this.buffers.size,
    };
  }

  private grow(): void {
    const count = Math.min(this.chunksPerMemory, this.maxChunks - this.allocated);
    const pages = Math.ceil((count * this.chunkBytes) / WASM_PAGE_BYTES);
    const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
    const all = new Uint8Array(memory.buffer);
    this.buffers.add(memory.buffer);
    for (let i = count - 1; i >= 0; i--) {
      this.free.push(all.subarray(i * this.chunkBytes, (i + 1) * this.chunkBytes));
    }
    this.allocated += count;
  }
}

/** The process-wide pool that direct file devices share (64 MiB at most, allocated on demand). */
export const directIoBuffers = new AlignedBufferPool();
