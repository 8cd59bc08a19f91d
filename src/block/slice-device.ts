// SliceDevice: a byte range [offset, offset + length) of a lower device, like dm-linear.
// Used for spares carved out of a device's tail; every request is shifted by the offset.
import type { BlockDevice, WriteOptions, WriteZeroesOptions } from "./block-device.js";
import { LayerDevice } from "./base-device.js";
import { SpecError } from "./errors.js";
import { formatSize } from "./size.js";

/** Options of a slice. */
export interface SliceDeviceOptions {
  /** First byte of the slice on the lower device (a multiple of the block size). */
  readonly offsetBytes: number;
  /** Length in bytes (a multiple of the block size); default: to the end of the lower device. */
  readonly lengthBytes?: number;
  /** Close the lower device when the slice closes (default true; false when slices share a device). */
  readonly closeLower?: boolean;
}

/** A window onto part of a lower device. */
export class SliceDevice extends LayerDevice {
  protected override readonly fastChecksBelow = false;
  readonly offsetBytes: number;
  readonly lengthBytes: number;
  readonly name: string;
  private readonly closeLower: boolean;

  constructor(lower: BlockDevice, options: SliceDeviceOptions) {
    super(lower);
    const unit = Math.max(512, lower.logicalBlockSize);
    const { offsetBytes } = options;
    const lengthBytes = options.lengthBytes ?? lower.sizeBytes - offsetBytes;
    const where = `slice of ${lower.describe()} (size ${lower.sizeBytes})`;
    if (!Number.isSafeInteger(offsetBytes) || offsetBytes < 0 || offsetBytes % unit !== 0) {
      throw new SpecError(
        String(offsetBytes),
        `${where}: offset ${offsetBytes} is not a non-negative multiple of ${unit}`,
      );
    }
    if (offsetBytes >= lower.sizeBytes) {
      throw new SpecError(
        String(offsetBytes),
        `${where}: offset ${offsetBytes} is not inside the device (size ${lower.sizeBytes})`,
      );
    }
    if (!Number.isSafeInteger(lengthBytes) || lengthBytes <= 0 || lengthBytes % unit !== 0) {
      throw new SpecError(
        String(lengthBytes),
        `${where}: length ${lengthBytes} is not a positive multiple of ${unit}`,
      );
    }
    if (offsetBytes + lengthBytes > lower.sizeBytes) {
      throw new SpecError(
        String(lengthBytes),
        `${where}: offset ${offsetBytes} + length ${lengthBytes} = ${offsetBytes + lengthBytes} ` +
          `is past the end of the device (size ${lower.sizeBytes})`,
      );
    }
    this.offsetBytes = offsetBytes;
    this.lengthBytes = lengthBytes;
    this.closeLower = options.closeLower ?? true;
    this.name = `slice:${formatSize(offsetBytes)}+${formatSize(lengthBytes)}:${lower.describe()}`;
  }

  override get sizeBytes(): number {
    return this.lengthBytes;
  }

  protected override _read(offsetBytes: number, target: Uint8Array): Promise<void> {
    return this.lower.read(this.offsetBytes + offsetBytes, target);
  }

  protected override _write(offsetBytes: number, data: Uint8Array, options: WriteOptions): Promise<void> {
    return this.lower.write(this.offsetBytes + offsetBytes, data, options);
  }

  protected override _trim(offsetBytes: number, lengthBytes: number): Promise<void> {
    return this.lower.trim(this.offsetBytes + offsetBytes, lengthBytes);
  }

  protected override _writeZeroes(
    offsetBytes: number,
    lengthBytes: number,
    options: WriteZeroesOptions,
  ): Promise<void> {
    return this.lower.writeZeroes(this.offsetBytes + offsetBytes, lengthBytes, options);
  }

  protected override async _close(): Promise<void> {
    if (this.closeLower) await this.lower.close();
  }

  protected override statusExtra(): Record<string, unknown> {
    return { offsetBytes: this.offsetBytes, lengthBytes: this.lengthBytes, ...super.statusExtra() };
  }

  describe(): string {
    const args = `offset=${formatSize(this.offsetBytes)},length=${formatSize(this.lengthBytes)}`;
    return `slice:${args}:${this.lower.describe()}`;
  }
}
