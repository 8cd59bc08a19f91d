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

/**
 * Backing stores known to start on a BUFFER_ALIGNMENT_BYTES boundary: the WebAssembly memories made
 * here. JavaScript cannot read an address, so alignment is known only for memory allocated this way.
 */
const alignedStores = new WeakSet<ArrayBufferLike>();

/** A fresh WebAssembly.Memory of at least `bytes` bytes (never grown, so its buffer never detaches). */
function newMemory(bytes: number): ArrayBuffer {
  const pages = Math.max(1, Math.ceil(bytes / WASM_PAGE_BYTES));
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
  alignedStores.add(memory.buffer);
  return memory.buffer;
}

/**
 * `bytes` zeroed bytes starting on a BUFFER_ALIGNMENT_BYTES boundary, for buffers that O_DIRECT
 * devices read and write in place (DirectIo skips its bounce copy for them). One Memory each: for a
 * few long-lived buffers (a drain's batches), not per request.
 */
export function allocateAligned(bytes: number): Uint8Array {
  if (!Number.isSafeInteger(bytes) || bytes <= 0 || bytes > 1 << 30)
    throw new RangeError(`aligned buffer size ${bytes} is not an integer in 1..1 GiB`);
  return new Uint8Array(newMemory(bytes), 0, bytes);
}

/**
 * Aligned buffers kept for reuse between jobs (by exact size, up to `capBytes` in all): a drain takes
 * its batch buffers here and gives them back at its end. Measured: O_DIRECT drains into buffers
 * reused this way ran about 1.15x faster than into a fresh Memory per drain (docs/PERFORMANCE.md).
 */
export class AlignedBufferCache {
  private readonly kept = new Map<number, Uint8Array[]>();
  private keptBytes = 0;

  constructor(readonly capBytes: number) {}

  /** A buffer of `bytes` aligned bytes (old contents when reused). */
  take(bytes: number): Uint8Array {
    const reused = this.kept.get(bytes)?.pop();
    if (reused === undefined) return allocateAligned(bytes);
    this.keptBytes -= bytes;
    return reused;
  }

  /** Keep `buffer` (from take()) for a later take(), unless that would pass the cap. */
  give(buffer: Uint8Array): void {
    if (this.keptBytes + buffer.length > this.capBytes || !isMemoryAligned(buffer, BUFFER_ALIGNMENT_BYTES))
      return;
    const list = this.kept.get(buffer.length) ?? [];
    list.push(buffer);
    this.kept.set(buffer.length, list);
    this.keptBytes += buffer.length;
  }

  /** Bytes kept now. */
  get bytes(): number {
    return this.keptBytes;
  }
}

/**
 * Whether `view` starts at a memory address that is a multiple of `alignBytes` (a power of two):
 * true only for views at a suitable byteOffset into memory from allocateAligned() or a pool.
 */
export function isMemoryAligned(view: Uint8Array, alignBytes: number): boolean {
  return (
    alignBytes <= BUFFER_ALIGNMENT_BYTES &&
    view.byteOffset % alignBytes === 0 &&
    alignedStores.has(view.buffer)
  );
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
    const buffer = newMemory(count * this.chunkBytes);
    const all = new Uint8Array(buffer);
    this.buffers.add(buffer);
    for (let i = count - 1; i >= 0; i--) {
      this.free.push(all.subarray(i * this.chunkBytes, (i + 1) * this.chunkBytes));
    }
    this.allocated += count;
  }
}

/** Batch buffers that drains share across jobs (at most 64 MiB kept). */
export const batchBuffers = new AlignedBufferCache(64 << 20);

/** The process-wide pool that direct file devices share (64 MiB at most, allocated on demand). */
export const directIoBuffers = new AlignedBufferPool();
