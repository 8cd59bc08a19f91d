// The block-device contract: every leaf device and every layer (fault, remap, ...) implements it.
// Offsets and lengths are in bytes and stay below 2^53; buffers are filled or consumed whole.

/** What a device can do, as data; read once by the layers above to compute their own capabilities. */
export interface DeviceCapabilities {
  /** FLUSH persists every write acknowledged before it. */
  readonly flush: boolean;
  /** A write with `fua` is durable when it resolves. */
  readonly fua: boolean;
  /** TRIM is supported (contents of trimmed ranges read as zeroes or as the old data). */
  readonly trim: boolean;
  /** WRITE_ZEROES is supported natively (otherwise the caller writes zero buffers). */
  readonly writeZeroes: boolean;
  /** Writes, trims and zeroing are refused. */
  readonly readOnly: boolean;
}

/** Options of a single write. */
export interface WriteOptions {
  /** Force unit access: the data is durable when the promise resolves. */
  readonly fua?: boolean;
}

/** Options of a zeroing request. */
export interface WriteZeroesOptions extends WriteOptions {
  /** The device may deallocate instead of writing zeroes (NBD: absence of NO_HOLE). */
  readonly mayTrim?: boolean;
}

/** Live counters and state; every device reports at least these. */
export interface DeviceStatus {
  readonly kind: string;
  readonly sizeBytes: number;
  readonly reads: number;
  readonly writes: number;
  readonly bytesRead: number;
  readonly bytesWritten: number;
  readonly flushes: number;
  readonly errors: number;
  readonly closed: boolean;
  /** Layer-specific extras (fault counters, remap state, lower device status ...). */
  readonly [extra: string]: unknown;
}

/** A block device: a fixed-size array of bytes with explicit durability points. */
export interface BlockDevice {
  /** Size in bytes, a multiple of `logicalBlockSize`. */
  readonly sizeBytes: number;
  /** Smallest unit the device addresses (usually 512); requests need not be aligned to it. */
  readonly logicalBlockSize: number;
  readonly capabilities: DeviceCapabilities;
  /** Fill `target` with the bytes at `offsetBytes`. */
  read(offsetBytes: number, target: Uint8Array): Promise<void>;
  /** Write `data` at `offsetBytes`. */
  write(offsetBytes: number, data: Uint8Array, options?: WriteOptions): Promise<void>;
  /** Make every write acknowledged so far durable. */
  flush(): Promise<void>;
  /** Discard a range (advisory: later reads return zeroes or the old data, never anything else). */
  trim(offsetBytes: number, lengthBytes: number): Promise<void>;
  /** Set a range to zeroes. */
  writeZeroes(offsetBytes: number, lengthBytes: number, options?: WriteZeroesOptions): Promise<void>;
  /** Release resources; every later call fails with a DeviceClosedError. Idempotent. */
  close(): Promise<void>;
  /** Live state and counters. */
  status(): DeviceStatus;
  /** The device spec that recreates this device. */
  describe(): string;
}
