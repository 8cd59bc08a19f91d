// A layer that reports the duration of every request to an observer (request latency metrics).
import type { BlockDevice, WriteOptions, WriteZeroesOptions } from "./block-device.js";
import { LayerDevice } from "./base-device.js";

/** Receives one observation per completed request (failed ones included). */
export type RequestObserver = (op: "read" | "write" | "flush" | "trim" | "zero", seconds: number) => void;

/** Passes every request through and times it with a monotonic clock. */
export class MeasuredDevice extends LayerDevice {
  readonly name: string;
  constructor(
    lower: BlockDevice,
    private readonly observe: RequestObserver,
  ) {
    super(lower);
    this.name = lower.describe();
  }

  private async timed(op: Parameters<RequestObserver>[0], run: () => Promise<void>): Promise<void> {
    const start = process.hrtime.bigint();
    try {
      await run();
    } finally {
      this.observe(op, Number(process.hrtime.bigint() - start) / 1e9);
    }
  }

  protected override _read(offsetBytes: number, target: Uint8Array): Promise<void> {
    return this.timed("read", () => this.lower.read(offsetBytes, target));
  }
  protected override _write(offsetBytes: number, data: Uint8Array, options: WriteOptions): Promise<void> {
    return this.timed("write", () => this.lower.write(offsetBytes, data, options));
  }
  protected override _flush(): Promise<void> {
    return this.timed("flush", () => this.lower.flush());
  }
  protected override _trim(offsetBytes: number, lengthBytes: number): Promise<void> {
    return this.timed("trim", () => this.lower.trim(offsetBytes, lengthBytes));
  }
  protected override _writeZeroes(offsetBytes: number, lengthBytes: number, options: WriteZeroesOptions) {
    return this.timed("zero", () => this.lower.writeZeroes(offsetBytes, lengthBytes, options));
  }
  /** Status is the lower device's: this layer adds no state worth showing. */
  override status() {
    return this.lower.status();
  }
  describe(): string {
    return this.lower.describe();
  }
}
