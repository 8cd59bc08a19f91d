// Plumbing shared by every device: closed checks, range and read-only asserts, counters.
// Subclasses fill the `_hooks`; layers extend LayerDevice and override only what they change.
import type {
  BlockDevice,
  DeviceCapabilities,
  DeviceStatus,
  WriteOptions,
  WriteZeroesOptions,
} from "./block-device.js";
import { DeviceClosedError, OutOfRangeError, ReadOnlyError, UnsupportedError } from "./errors.js";

const ZERO_CHUNK_BYTES = 1 << 20;
let zeroChunk: Uint8Array | undefined;

/** A shared, never-written buffer of zeroes (1 MiB) for zero-filling writes. */
export function zeroes(lengthBytes: number): Uint8Array {
  zeroChunk ??= new Uint8Array(ZERO_CHUNK_BYTES);
  return lengthBytes <= ZERO_CHUNK_BYTES ? zeroChunk.subarray(0, lengthBytes) : new Uint8Array(lengthBytes);
}

/** Base class: owns open/closed state, validation and counters; subclasses implement the hooks. */
export abstract class BaseDevice implements BlockDevice {
  abstract readonly sizeBytes: number;
  abstract readonly capabilities: DeviceCapabilities;
  get logicalBlockSize(): number {
    return 512;
  }
  /** Short name used in error messages. */
  abstract readonly name: string;

  protected closed = false;
  /**
   * Set by a layer whose fast path (answer-now.ts) hands every request, at the same offset, to a
   * device of its own size and capabilities: that device's fast path checks range and read-only, so
   * this one checks only that it is open (each layer re-checking would walk the getters down the
   * stack on every request). A layer that changes offsets, size or capabilities leaves it false.
   */
  protected readonly fastChecksBelow: boolean = false;
  protected counters = { reads: 0, writes: 0, bytesRead: 0, bytesWritten: 0, flushes: 0, errors: 0 };

  protected abstract _read(offsetBytes: number, target: Uint8Array): Promise<void>;
  protected abstract _write(offsetBytes: number, data: Uint8Array, options: WriteOptions): Promise<void>;
  protected abstract _flush(): Promise<void>;
  protected _trim(_offsetBytes: number, _lengthBytes: number): Promise<void> {
    return Promise.reject(new UnsupportedError(this.name, "trim"));
  }
  /** Default zeroing: write zero buffers in 1 MiB pieces. */
  protected async _writeZeroes(
    offsetBytes: number,
    lengthBytes: number,
    options: WriteZeroesOptions,
  ): Promise<void> {
    const end = offsetBytes + lengthBytes;
    for (let at = offsetBytes; at < end; at += ZERO_CHUNK_BYTES) {
      const n = Math.min(ZERO_CHUNK_BYTES, end - at);
      await this._write(at, zeroes(n), { fua: false });
    }
    if (options.fua) await this._flush();
  }
  protected async _close(): Promise<void> {}
  /** Extra fields merged into status(). */
  protected statusExtra(): Record<string, unknown> {
    return {};
  }
  abstract describe(): string;

  protected assertOpen(): void {
    if (this.closed) throw new DeviceClosedError(this.name);
  }

  protected assertRange(offsetBytes: number, lengthBytes: number): void {
    if (
      !Number.isSafeInteger(offsetBytes) ||
      !Number.isSafeInteger(lengthBytes) ||
      offsetBytes < 0 ||
      lengthBytes < 0 ||
      offsetBytes + lengthBytes > this.sizeBytes
    ) {
      throw new OutOfRangeError(this.name, offsetBytes, lengthBytes, this.sizeBytes);
    }
  }

  protected assertWritable(): void {
    if (this.capabilities.readOnly) throw new ReadOnlyError(this.name, this.readOnlyReason());
  }

  /** Why the device is read-only, if it says. */
  protected readOnlyReason(): string | undefined {
    return undefined;
  }

  // read() and write() are plain functions returning the lower promise with one reaction attached
  // (not async functions): they run on every request of every layer of a stack.
  read(offsetBytes: number, target: Uint8Array): Promise<void> {
    let pending: Promise<void>;
    try {
      this.assertOpen();
      this.assertRange(offsetBytes, target.length);
      this.counters.reads++;
      if (target.length === 0) return Promise.resolve();
    } catch (err) {
      return Promise.reject(err as Error);
    }
    try {
      pending = this._read(offsetBytes, target);
    } catch (err) {
      return this.failed(err);
    }
    const n = target.length;
    return pending.then(() => {
      this.counters.bytesRead += n;
    }, this.failed);
  }

  write(offsetBytes: number, data: Uint8Array, options: WriteOptions = {}): Promise<void> {
    let pending: Promise<void>;
    try {
      this.assertOpen();
      this.assertRange(offsetBytes, data.length);
      this.assertWritable();
      this.counters.writes++;
      if (data.length === 0 && !options.fua) return Promise.resolve();
    } catch (err) {
      return Promise.reject(err as Error);
    }
    try {
      pending = data.length === 0 ? this._flush() : this._write(offsetBytes, data, options);
    } catch (err) {
      return this.failed(err);
    }
    const n = data.length;
    return pending.then(() => {
      this.counters.bytesWritten += n;
    }, this.failed);
  }

  /**
   * Synchronous fast path (answer-now.ts): the read done now, or false with nothing counted. Devices
   * opt in by overriding _readNow(); the checks that would make read() throw refuse it instead.
   */
  tryReadNow(offsetBytes: number, target: Uint8Array): boolean {
    const n = target.length;
    if (this.closed || n === 0) return false;
    if (!this.fastChecksBelow && !this.inRange(offsetBytes, n)) return false;
    if (!this._readNow(offsetBytes, target)) return false;
    this.counters.reads++;
    this.counters.bytesRead += n;
    return true;
  }

  /** Synchronous fast path of a write without FUA (answer-now.ts), or false with nothing counted. */
  tryWriteNow(offsetBytes: number, data: Uint8Array): boolean {
    const n = data.length;
    if (this.closed || n === 0) return false;
    if (!this.fastChecksBelow && (!this.inRange(offsetBytes, n) || this.capabilities.readOnly)) return false;
    if (!this._writeNow(offsetBytes, data)) return false;
    this.counters.writes++;
    this.counters.bytesWritten += n;
    return true;
  }

  /** Read now and return true, or return false having done nothing observable (default: no fast path). */
  protected _readNow(_offsetBytes: number, _target: Uint8Array): boolean {
    return false;
  }

  /** Write now and return true, or return false having done nothing observable (default: no fast path). */
  protected _writeNow(_offsetBytes: number, _data: Uint8Array): boolean {
    return false;
  }

  /** Whether [offsetBytes, +lengthBytes) lies inside the device (the fast paths' range check). */
  protected inRange(offsetBytes: number, lengthBytes: number): boolean {
    return (
      Number.isSafeInteger(offsetBytes) && offsetBytes >= 0 && offsetBytes + lengthBytes <= this.sizeBytes
    );
  }

  /** Count a failed lower operation and pass its error on. */
  private readonly failed = (err: unknown): Promise<never> => {
    this.counters.errors++;
    return Promise.reject(err as Error);
  };

  async flush(): Promise<void> {
    this.assertOpen();
    this.counters.flushes++;
    try {
      await this._flush();
    } catch (err) {
      this.counters.errors++;
      throw err;
    }
  }

  async trim(offsetBytes: number, lengthBytes: number): Promise<void> {
    this.assertOpen();
    this.assertRange(offsetBytes, lengthBytes);
    this.assertWritable();
    if (!this.capabilities.trim) throw new UnsupportedError(this.name, "trim");
    if (lengthBytes === 0) return;
    try {
      await this._trim(offsetBytes, lengthBytes);
    } catch (err) {
      this.counters.errors++;
      throw err;
    }
  }

  async writeZeroes(
    offsetBytes: number,
    lengthBytes: number,
    options: WriteZeroesOptions = {},
  ): Promise<void> {
    this.assertOpen();
    this.assertRange(offsetBytes, lengthBytes);
    this.assertWritable();
    this.counters.writes++;
    if (lengthBytes === 0) return;
    try {
      await this._writeZeroes(offsetBytes, lengthBytes, options);
    } catch (err) {
      this.counters.errors++;
      throw err;
    }
    this.counters.bytesWritten += lengthBytes;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this._close();
  }

  status(): DeviceStatus {
    return {
      kind: this.constructor.name,
      sizeBytes: this.sizeBytes,
      ...this.counters,
      closed: this.closed,
      ...this.statusExtra(),
    };
  }
}

/**
 * A layer over one lower device: passes every operation through untouched unless overridden. Its
 * fast path, where a subclass gives it one, forwards the same offsets to `lower` (fastChecksBelow); a
 * subclass that changes offsets, size or capabilities sets fastChecksBelow back to false.
 */
export abstract class LayerDevice extends BaseDevice {
  protected override readonly fastChecksBelow: boolean = true;
  constructor(readonly lower: BlockDevice) {
    super();
  }
  get sizeBytes(): number {
    return this.lower.sizeBytes;
  }
  get capabilities(): DeviceCapabilities {
    return this.lower.capabilities;
  }
  override get logicalBlockSize(): number {
    return this.lower.logicalBlockSize;
  }
  protected _read(offsetBytes: number, target: Uint8Array): Promise<void> {
    return this.lower.read(offsetBytes, target);
  }
  protected _write(offsetBytes: number, data: Uint8Array, options: WriteOptions): Promise<void> {
    return this.lower.write(offsetBytes, data, options);
  }
  protected _flush(): Promise<void> {
    return this.lower.flush();
  }
  protected override _trim(offsetBytes: number, lengthBytes: number): Promise<void> {
    return this.lower.trim(offsetBytes, lengthBytes);
  }
  protected override _writeZeroes(
    offsetBytes: number,
    lengthBytes: number,
    options: WriteZeroesOptions,
  ): Promise<void> {
    return this.lower.writeZeroes(offsetBytes, lengthBytes, options);
  }
  /** Closing a layer closes the device below it. */
  protected override _close(): Promise<void> {
    return this.lower.close();
  }
  protected override statusExtra(): Record<string, unknown> {
    return { lower: this.lower.status() };
  }
}

/** Read `lengthBytes` at `offsetBytes` into a new buffer. */
export async function readBytes(
  device: BlockDevice,
  offsetBytes: number,
  lengthBytes: number,
): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(lengthBytes);
  await device.read(offsetBytes, buf);
  return buf;
}
