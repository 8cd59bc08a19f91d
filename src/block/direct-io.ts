// O_DIRECT data path of a file device: a request whose offset, length and memory are aligned is read
// or written in place (zero-copy); any other goes through aligned bounce buffers at aligned offsets
// and lengths, unaligned writes read-modify-writing their edge blocks. Writes hold a range lock.
import { isMemoryAligned, type AlignedBufferPool } from "./aligned-buffers.js";
import { endOfFile, ioFailure, readAt, writeAt } from "./file-io.js";
import { RangeLock } from "./range-lock.js";

/** How the requests of a DirectIo went. */
export interface DirectIoStats {
  /** Requests read or written in place in the caller's buffer. */
  readonly zeroCopyRequests: number;
  /** Requests copied through a bounce buffer (unaligned offset, length or memory). */
  readonly bouncedRequests: number;
}

/** The counters of every DirectIo of this process together (benchmarks and tests read them). */
const totals = { zeroCopyRequests: 0, bouncedRequests: 0 };

/** How the O_DIRECT requests of this whole process went so far. */
export function directIoTotals(): DirectIoStats {
  return { ...totals };
}

/** Aligned reads and writes on an fd opened with O_DIRECT. */
export class DirectIo {
  /** Held over the aligned blocks a write covers, so edge-block read-modify-writes lose nothing. */
  private readonly lock = new RangeLock();
  private zeroCopy = 0;
  private bounced = 0;

  constructor(
    private readonly fd: number,
    private readonly name: string,
    /** File offsets and lengths are multiples of this (the logical block size, >= 512). */
    readonly alignBytes: number,
    private readonly pool: AlignedBufferPool,
  ) {
    if (!Number.isSafeInteger(alignBytes) || alignBytes < 512 || (alignBytes & (alignBytes - 1)) !== 0) {
      throw new RangeError(`direct I/O alignment ${alignBytes} is not a power of two >= 512`);
    }
    if (pool.chunkBytes % alignBytes !== 0) {
      throw new RangeError(
        `bounce chunk size ${pool.chunkBytes} is not a multiple of alignment ${alignBytes}`,
      );
    }
  }

  /** Counters since open. */
  stats(): DirectIoStats {
    return { zeroCopyRequests: this.zeroCopy, bouncedRequests: this.bounced };
  }

  private note(zeroCopy: boolean): void {
    if (zeroCopy) {
      this.zeroCopy++;
      totals.zeroCopyRequests++;
    } else {
      this.bounced++;
      totals.bouncedRequests++;
    }
  }

  /** Whether a request can use `buffer` itself: offset, length and memory address all aligned. */
  private inPlace(offsetBytes: number, buffer: Uint8Array): boolean {
    const a = this.alignBytes;
    return offsetBytes % a === 0 && buffer.length % a === 0 && isMemoryAligned(buffer, a);
  }

  /** Read `target.length` bytes at `offsetBytes` (any offset and length). */
  async read(offsetBytes: number, target: Uint8Array): Promise<void> {
    if (this.inPlace(offsetBytes, target)) {
      this.note(true);
      return this.readFull(target, 0, target.length, offsetBytes);
    }
    this.note(false);
    const end = offsetBytes + target.length;
    const first = this.alignDown(offsetBytes);
    const stop = this.alignUp(end);
    const chunk = await this.acquire("read", offsetBytes, target.length);
    try {
      for (let at = first; at < stop; at += chunk.length) {
        const n = Math.min(chunk.length, stop - at);
        await this.readFull(chunk, 0, n, at);
        const from = Math.max(at, offsetBytes);
        const to = Math.min(at + n, end);
        target.set(chunk.subarray(from - at, to - at), from - offsetBytes);
      }
    } finally {
      this.pool.release(chunk);
    }
  }

  /** Write `data` at `offsetBytes` (any offset and length); blocks it only partly covers keep their other bytes. */
  async write(offsetBytes: number, data: Uint8Array): Promise<void> {
    const end = offsetBytes + data.length;
    const first = this.alignDown(offsetBytes);
    const stop = this.alignUp(end);
    const a = this.alignBytes;
    const release = await this.lock.acquire(first / a, stop / a);
    try {
      if (this.inPlace(offsetBytes, data)) {
        this.note(true);
        await this.writeFull(data, data.length, offsetBytes);
        return;
      }
      this.note(false);
      const chunk = await this.acquire("write", offsetBytes, data.length);
      try {
        for (let at = first; at < stop; at += chunk.length) {
          const n = Math.min(chunk.length, stop - at);
          const from = Math.max(at, offsetBytes);
          const to = Math.min(at + n, end);
          const headPartial = from > at;
          if (headPartial) await this.readFull(chunk, 0, a, at);
          if (to < at + n && !(headPartial && n === a)) await this.readFull(chunk, n - a, a, at + n - a);
          chunk.set(data.subarray(from - offsetBytes, to - offsetBytes), from - at);
          await this.writeFull(chunk, n, at);
        }
      } finally {
        this.pool.release(chunk);
      }
    } finally {
      release();
    }
  }

  private alignDown(bytes: number): number {
    return bytes - (bytes % this.alignBytes);
  }

  private alignUp(bytes: number): number {
    return this.alignDown(bytes + this.alignBytes - 1);
  }

  private async acquire(op: "read" | "write", offsetBytes: number, lengthBytes: number): Promise<Uint8Array> {
    try {
      return await this.pool.acquire();
    } catch (err) {
      throw ioFailure(this.name, op, offsetBytes, lengthBytes, err);
    }
  }

  /**
   * Bytes of one pread / pwrite when `left` remain: at most a bounce chunk (1 MiB), so in-place
   * requests reach the device in the same sizes as bounced ones (2 MiB calls measured no faster).
   */
  private callBytes(left: number): number {
    return Math.min(this.pool.chunkBytes, left);
  }

  private async readFull(chunk: Uint8Array, at: number, length: number, position: number): Promise<void> {
    let done = 0;
    while (done < length) {
      let n: number;
      try {
        n = await readAt(this.fd, chunk, at + done, this.callBytes(length - done), position + done);
      } catch (err) {
        throw ioFailure(this.name, "read", position + done, length - done, err);
      }
      if (n === 0) throw endOfFile(this.name, position + done, length - done);
      done += n;
    }
  }

  private async writeFull(chunk: Uint8Array, length: number, position: number): Promise<void> {
    let done = 0;
    while (done < length) {
      try {
        done += await writeAt(this.fd, chunk, done, this.callBytes(length - done), position + done);
      } catch (err) {
        throw ioFailure(this.name, "write", position + done, length - done, err);
      }
    }
  }
}
