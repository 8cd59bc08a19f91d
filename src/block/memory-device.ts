// A sparse in-memory device: 64 KiB chunks allocated on first write; unwritten bytes read as zeroes.
import type { DeviceCapabilities, WriteOptions } from "./block-device.js";
import { BaseDevice } from "./base-device.js";
import { SpecError } from "./errors.js";
import { formatSize } from "./size.js";

const CHUNK_SHIFT = 16;
const CHUNK_BYTES = 1 << CHUNK_SHIFT;

/** Options of a memory device. */
export interface MemoryDeviceOptions {
  readonly sizeBytes: number;
  /** Name used in messages and describe(); defaults to `mem:SIZE`. */
  readonly name?: string;
}

/** Sparse RAM-backed device for tests and demos; flush is a no-op (it has no volatile cache). */
export class MemoryDevice extends BaseDevice {
  readonly sizeBytes: number;
  readonly name: string;
  readonly capabilities: DeviceCapabilities = {
    flush: true,
    fua: true,
    trim: true,
    writeZeroes: true,
    readOnly: false,
  };
  private readonly chunks = new Map<number, Uint8Array>();

  constructor(options: MemoryDeviceOptions) {
    super();
    const { sizeBytes } = options;
    if (!Number.isSafeInteger(sizeBytes) || sizeBytes <= 0 || sizeBytes % 512 !== 0) {
      throw new SpecError(
        String(sizeBytes),
        `memory device size ${sizeBytes} is not a positive multiple of the 512-byte block size`,
      );
    }
    this.sizeBytes = sizeBytes;
    this.name = options.name ?? `mem:${formatSize(sizeBytes)}`;
  }

  /** Bytes of RAM currently holding data. */
  get allocatedBytes(): number {
    return this.chunks.size * CHUNK_BYTES;
  }

  protected async _read(offsetBytes: number, target: Uint8Array): Promise<void> {
    this.copyOut(offsetBytes, target);
  }

  /** Memory answers at once: the fast path (answer-now.ts) takes every read and write. */
  protected override _readNow(offsetBytes: number, target: Uint8Array): boolean {
    this.copyOut(offsetBytes, target);
    return true;
  }

  protected override _writeNow(offsetBytes: number, data: Uint8Array): boolean {
    this.copyIn(offsetBytes, data);
    return true;
  }

  private copyOut(offsetBytes: number, target: Uint8Array): void {
    let done = 0;
    while (done < target.length) {
      const at = offsetBytes + done;
      const index = Math.floor(at / CHUNK_BYTES);
      const within = at - index * CHUNK_BYTES;
      const n = Math.min(CHUNK_BYTES - within, target.length - done);
      const chunk = this.chunks.get(index);
      if (chunk) target.set(chunk.subarray(within, within + n), done);
      else target.fill(0, done, done + n);
      done += n;
    }
  }

  protected async _write(offsetBytes: number, data: Uint8Array, _options: WriteOptions): Promise<void> {
    this.copyIn(offsetBytes, data);
  }

  private copyIn(offsetBytes: number, data: Uint8Array): void {
    let done = 0;
    while (done < data.length) {
      const at = offsetBytes + done;
      const index = Math.floor(at / CHUNK_BYTES);
      const within = at - index * CHUNK_BYTES;
      const n = Math.min(CHUNK_BYTES - within, data.length - done);
      let chunk = this.chunks.get(index);
      if (!chunk) {
        chunk = new Uint8Array(CHUNK_BYTES);
        this.chunks.set(index, chunk);
      }
      chunk.set(data.subarray(done, done + n), within);
      done += n;
    }
  }

  protected async _flush(): Promise<void> {}

  protected override async _trim(offsetBytes: number, lengthBytes: number): Promise<void> {
    this.zeroRange(offsetBytes, lengthBytes);
  }

  protected override async _writeZeroes(offsetBytes: number, lengthBytes: number): Promise<void> {
    this.zeroRange(offsetBytes, lengthBytes);
  }

  private zeroRange(offsetBytes: number, lengthBytes: number): void {
    const end = offsetBytes + lengthBytes;
    let at = offsetBytes;
    while (at < end) {
      const index = Math.floor(at / CHUNK_BYTES);
      const within = at - index * CHUNK_BYTES;
      const n = Math.min(CHUNK_BYTES - within, end - at);
      if (n === CHUNK_BYTES) this.chunks.delete(index);
      else this.chunks.get(index)?.fill(0, within, within + n);
      at += n;
    }
  }

  protected override async _close(): Promise<void> {
    this.chunks.clear();
  }

  protected override statusExtra(): Record<string, unknown> {
    return { allocatedBytes: this.allocatedBytes };
  }

  describe(): string {
    return `mem:${formatSize(this.sizeBytes)}`;
  }
}
