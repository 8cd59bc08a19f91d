// A layer that reports the duration of every request to an observer (request latency metrics).
// On the data path: one performance.now() pair and one promise reaction per request, nothing else.
import { performance } from "node:perf_hooks";
import type { BlockDevice, WriteOptions, WriteZeroesOptions } from "./block-device.js";
import { tryReadNow, tryWriteNow } from "./answer-now.js";
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

  /** Observe the duration of `request` (resolved or failed) without wrapping it in a closure. */
  private timed(op: Parameters<RequestObserver>[0], request: Promise<void>, startMs: number): Promise<void> {
    return request.then(
      () => this.observe(op, (performance.now() - startMs) / 1000),
      (err: unknown) => {
        this.observe(op, (performance.now() - startMs) / 1000);
        throw err;
      },
    );
  }

  protected override _read(offsetBytes: number, target: Uint8Array): Promise<void> {
    const start = performance.now();
    return this.timed("read", this.lower.read(offsetBytes, target), start);
  }
  protected override _write(offsetBytes: number, data: Uint8Array, options: WriteOptions): Promise<void> {
    const start = performance.now();
    return this.timed("write", this.lower.write(offsetBytes, data, options), start);
  }
  /** Fast path (answer-now.ts): observed like the promise path, only when the lower device answered. */
  protected override _readNow(offsetBytes: number, target: Uint8Array): boolean {
    const start = performance.now();
    if (!tryReadNow(this.lower, offsetBytes, target)) return false;
    this.observe("read", (performance.now() - start) / 1000);
    return true;
  }
  protected override _writeNow(offsetBytes: number, data: Uint8Array): boolean {
    const start = performance.now();
    if (!tryWriteNow(this.lower, offsetBytes, data)) return false;
    this.observe("write", (performance.now() - start) / 1000);
    return true;
  }
  protected override _flush(): Promise<void> {
    const start = performance.now();
    return this.timed("flush", this.lower.flush(), start);
  }
  protected override _trim(offsetBytes: number, lengthBytes: number): Promise<void> {
    const start = performance.now();
    return this.timed("trim", this.lower.trim(offsetBytes, lengthBytes), start);
  }
  protected override _writeZeroes(offsetBytes: number, lengthBytes: number, options: WriteZeroesOptions) {
    const start = performance.now();
    return this.timed("zero", this.lower.writeZeroes(offsetBytes, lengthBytes, options), start);
  }
  /** Status is the lower device's: this layer adds no state worth showing. */
  override status() {
    return this.lower.status();
  }
  describe(): string {
    return this.lower.describe();
  }
}
