// Test-only volatile write cache: writes stay in a cache until FLUSH (or FUA); crash() drops the cache,
// so only flushed data survives. Reads see cached writes, as on a real disk with a write cache.
import type { BlockDevice, WriteOptions } from "../../block/block-device.js";
import { LayerDevice } from "../../block/base-device.js";

interface CachedWrite {
  readonly offsetBytes: number;
  readonly data: Uint8Array;
}

/** A layer whose unflushed writes are lost at crash(). */
export class VolatileDevice extends LayerDevice {
  readonly name: string;
  private cache: CachedWrite[] = [];
  private flushChain: Promise<void> = Promise.resolve();

  constructor(lower: BlockDevice, name = "volatile") {
    super(lower);
    this.name = name;
  }

  /** Number of writes not yet durable. */
  get cachedWrites(): number {
    return this.cache.length;
  }

  /** Forget every unflushed write (power loss). */
  crash(): void {
    this.cache = [];
  }

  protected override async _read(offsetBytes: number, target: Uint8Array): Promise<void> {
    await this.lower.read(offsetBytes, target);
    const end = offsetBytes + target.length;
    for (const w of this.cache) {
      const from = Math.max(offsetBytes, w.offsetBytes);
      const to = Math.min(end, w.offsetBytes + w.data.length);
      if (from < to)
        target.set(w.data.subarray(from - w.offsetBytes, to - w.offsetBytes), from - offsetBytes);
    }
  }

  protected override async _write(
    offsetBytes: number,
    data: Uint8Array,
    options: WriteOptions,
  ): Promise<void> {
    this.cache.push({ offsetBytes, data: Uint8Array.from(data) });
    if (options.fua) await this._flush();
  }

  protected override async _writeZeroes(offsetBytes: number, lengthBytes: number): Promise<void> {
    this.cache.push({ offsetBytes, data: new Uint8Array(lengthBytes) });
  }

  protected override async _trim(offsetBytes: number, lengthBytes: number): Promise<void> {
    this.cache.push({ offsetBytes, data: new Uint8Array(lengthBytes) });
  }

  protected override _flush(): Promise<void> {
    const run = this.flushChain.then(() => this.writeBack());
    this.flushChain = run.catch(() => undefined);
    return run;
  }

  /** Entries leave the cache only once written, so reads during the flush never see older media. */
  private async writeBack(): Promise<void> {
    const batch = new Set(this.cache);
    for (const w of batch) await this.lower.write(w.offsetBytes, w.data);
    this.cache = this.cache.filter((w) => !batch.has(w));
    await this.lower.flush();
  }

  /** Closing does not flush: close without flush loses the cache, like a crash. */
  protected override async _close(): Promise<void> {
    this.cache = [];
    await this.lower.close();
  }

  describe(): string {
    return `volatile:${this.lower.describe()}`;
  }
}
