// O_DIRECT data path of a file device: every transfer goes through aligned bounce buffers at
// aligned offsets and lengths; unaligned writes read-modify-write their edge blocks under a range lock.
import type { AlignedBufferPool } from "./aligned-buffers.js";
import { endOfFile, ioFailure, readAt, writeAt } from "./file-io.js";
import { RangeLock } from "./range-lock.js";

/** Aligned reads and writes on an fd opened with O_DIRECT. */
export class DirectIo {
  /** Held over the aligned blocks a write covers, so edge-block read-modify-writes lose nothing. */
  private readonly lock = new RangeLock();

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

  /** Read `target.length` bytes at `offsetBytes` (any offset and length). */
  async read(offsetBytes: number, target: Uint8Array): Promise<void> {
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

  private async readFull(chunk: Uint8Array, at: number, length: number, position: number): Promise<void> {
    let done = 0;
    while (done < length) {
      let n: number;
      try {
        n = await readAt(this.fd, chunk, at + done, length - done, position + done);
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
        done += await writeAt(this.fd, chunk, done, length - done, position + done);
      } catch (err) {
        throw ioFailure(this.name, "write", position + done, length - done, err);
      }
    }
  }
}
