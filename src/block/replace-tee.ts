// The main-replacement tee: a layer over the main device that, while a replacement is armed, mirrors
// every write, zeroing and trim to the new device too, lets a copier move ranges under a range lock,
// and at the end swaps the new device in as the one it serves (the old one is handed back to close).
import type {
  BlockDevice,
  DeviceCapabilities,
  DeviceStatus,
  WriteOptions,
  WriteZeroesOptions,
} from "./block-device.js";
import { tryBulkReadNow, tryBulkWriteNow, tryReadNow, tryWriteNow } from "./answer-now.js";
import { BaseDevice, zeroes } from "./base-device.js";
import { SYNC_IO_MAX_BYTES } from "./file-device.js";
import { RangeLock } from "./range-lock.js";

/** Blocks a user rewrote whole whose fact must be persisted before the write completes (see watchRewrites). */
export interface RewriteWatch {
  /** Is the fact that `block` was rewritten worth persisting (a block known bad on the old main)? */
  watched(block: number): boolean;
  /** Persist that `blocks` were rewritten whole; the user's write completes after it. */
  persist(blocks: readonly number[]): Promise<void>;
}

/**
 * Why no user write can be lost on the new device: user writes and the copier's read-then-write of a
 * range take the same range lock. A copier that read the old bytes holds the lock until it has
 * written them to the new device, so an overlapping user write waits and then lands on both devices
 * after the copy (it wins); a user write already holding the lock finishes on both before the
 * copier reads (the copier then copies the new bytes). Writes that started before arming are waited
 * for by arm(), so no write reaches only the old device after arm() resolves.
 */
export class ReplaceTee extends BaseDevice {
  readonly name = "replace-tee";
  /** Size and capabilities are the current main's, and the fast path forwards to it unchanged. */
  protected override readonly fastChecksBelow = true;
  private current: BlockDevice;
  private target: BlockDevice | undefined;
  private readonly lock = new RangeLock();
  /** Requests in flight, counted per epoch; arm/disarm/swap start a new one and wait out the old. */
  private epoch = new Epoch();
  /** Blocks wholly written (or zeroed) while armed, one bit each (undefined when not armed). */
  private rewritten: Uint8Array | undefined;
  private rewrittenBlockSize = 1;
  private targetError: unknown;
  private watch: RewriteWatch | undefined;
  /** Bytes written to the new device by user writes while armed. */
  mirroredBytes = 0;

  constructor(lower: BlockDevice) {
    super();
    this.current = lower;
  }

  /** The device served now (the old main until swap()). */
  get lower(): BlockDevice {
    return this.current;
  }

  /** The device being filled, while armed. */
  get replacement(): BlockDevice | undefined {
    return this.target;
  }

  /** The first error of the new device (its writes or flushes), if any: the replacement has failed. */
  get replacementError(): unknown {
    return this.targetError;
  }

  get sizeBytes(): number {
    return this.current.sizeBytes;
  }

  override get logicalBlockSize(): number {
    return this.current.logicalBlockSize;
  }

  get capabilities(): DeviceCapabilities {
    return this.current.capabilities;
  }

  describe(): string {
    return this.current.describe();
  }

  /**
   * Start mirroring to `target` (at least as large as the served device). Resolves once every write
   * that started before is finished. `blockSize` is the unit of wasWhollyWritten().
   */
  async arm(target: BlockDevice, blockSize: number): Promise<void> {
    if (this.target) throw new RangeError(`a replacement is already armed (${this.target.describe()})`);
    if (target.sizeBytes < this.current.sizeBytes)
      throw new RangeError(
        `replacement ${target.describe()} has ${target.sizeBytes} bytes, fewer than ${this.current.sizeBytes}`,
      );
    this.target = target;
    this.targetError = undefined;
    this.rewrittenBlockSize = blockSize;
    this.rewritten = new Uint8Array(Math.ceil(Math.ceil(this.current.sizeBytes / blockSize) / 8));
    await this.nextEpoch();
  }

  /**
   * While armed, tell `watch` of each user write that rewrote a watched block whole, and complete the
   * write only once watch.persist() did (a failure of it fails the replacement, not the write).
   */
  watchRewrites(watch: RewriteWatch | undefined): void {
    this.watch = watch;
  }

  /** Note that block `block` holds the user's data on the replacement (restored after a restart). */
  markWhollyWritten(block: number): void {
    const map = this.rewritten;
    if (map && block >= 0 && block >> 3 < map.length) map[block >> 3]! |= 1 << (block & 7);
  }

  /** Stop mirroring; returns the replacement device (not closed) or undefined when none was armed. */
  async disarm(): Promise<BlockDevice | undefined> {
    const target = this.target;
    this.target = undefined;
    this.rewritten = undefined;
    this.watch = undefined;
    await this.nextEpoch();
    return target;
  }

  /**
   * Serve from the replacement from now on (`onSwapped` runs at that very moment, before any other
   * I/O); resolves with the old device once every I/O that started before has finished (the caller
   * closes it).
   */
  async swap(onSwapped?: () => void): Promise<BlockDevice> {
    const target = this.target;
    if (!target) throw new RangeError("no replacement is armed");
    const old = this.current;
    this.current = target;
    onSwapped?.();
    this.target = undefined;
    this.rewritten = undefined;
    this.watch = undefined;
    await this.nextEpoch();
    return old;
  }

  /** Was block `block` wholly written or zeroed by a user while armed? */
  wasWhollyWritten(block: number): boolean {
    const map = this.rewritten;
    return map !== undefined && ((map[block >> 3] ?? 0) & (1 << (block & 7))) !== 0;
  }

  /**
   * Copy [offsetBytes, +buf.length) from the served device to the replacement, holding the range
   * lock from the read to the end of the write (see the class comment). Read errors propagate.
   */
  async copyRange(offsetBytes: number, buf: Uint8Array): Promise<void> {
    const release = await this.lock.acquire(offsetBytes, offsetBytes + buf.length);
    try {
      const target = this.target;
      if (!target) throw new RangeError("no replacement is armed");
      // Memory-backed mains answer now, in one call where they can (answer-now.ts).
      if (!tryBulkReadNow(this.current, offsetBytes, buf, SYNC_IO_MAX_BYTES))
        await this.current.read(offsetBytes, buf);
      if (!tryBulkWriteNow(target, offsetBytes, buf)) await target.write(offsetBytes, buf);
    } finally {
      release();
    }
  }

  /** Flush the replacement (before the switch commits). */
  async flushReplacement(): Promise<void> {
    if (!this.target) throw new RangeError("no replacement is armed");
    await this.target.flush();
  }

  protected _read(offsetBytes: number, target: Uint8Array): Promise<void> {
    return this.track(this.current.read(offsetBytes, target));
  }

  /**
   * Fast path (answer-now.ts): reads from the device served now; writes only while no replacement
   * is armed (an armed one writes both devices under the range lock). A request that ends before the
   * call returns needs no epoch count: nothing can wait for it.
   */
  protected override _readNow(offsetBytes: number, target: Uint8Array): boolean {
    return tryReadNow(this.current, offsetBytes, target);
  }

  protected override _writeNow(offsetBytes: number, data: Uint8Array): boolean {
    return this.target === undefined && tryWriteNow(this.current, offsetBytes, data);
  }

  protected _write(offsetBytes: number, data: Uint8Array, options: WriteOptions): Promise<void> {
    if (!this.target) return this.track(this.current.write(offsetBytes, data, options));
    return this.track(
      this.both(offsetBytes, data.length, true, (d) => d.write(offsetBytes, data, options), options.fua),
    );
  }

  protected override _writeZeroes(
    offsetBytes: number,
    lengthBytes: number,
    options: WriteZeroesOptions,
  ): Promise<void> {
    if (!this.target) return this.track(this.current.writeZeroes(offsetBytes, lengthBytes, options));
    return this.track(
      this.both(
        offsetBytes,
        lengthBytes,
        true,
        (d) =>
          d === this.current || d.capabilities.writeZeroes
            ? d.writeZeroes(offsetBytes, lengthBytes, options)
            : d.write(offsetBytes, zeroes(lengthBytes), options),
        options.fua,
      ),
    );
  }

  protected override _trim(offsetBytes: number, lengthBytes: number): Promise<void> {
    if (!this.target) return this.track(this.current.trim(offsetBytes, lengthBytes));
    // TRIM is advisory: a replacement that cannot trim keeps the copied bytes, which is allowed.
    return this.track(
      this.both(offsetBytes, lengthBytes, false, (d) =>
        d === this.current || d.capabilities.trim ? d.trim(offsetBytes, lengthBytes) : Promise.resolve(),
      ),
    );
  }

  protected async _flush(): Promise<void> {
    const target = this.target;
    const flushes = [this.current.flush(), ...(target ? [target.flush()] : [])];
    const [main, replacement] = await this.track(Promise.allSettled(flushes));
    if (replacement?.status === "rejected") this.noteTargetError(replacement.reason);
    if (main!.status === "rejected") throw main!.reason;
  }

  /**
   * Run `op` on the served device and on the replacement under the range lock. The served device's
   * outcome is the request's; a replacement failure fails the replacement, never the user's I/O.
   */
  private async both(
    offsetBytes: number,
    lengthBytes: number,
    writes: boolean,
    op: (device: BlockDevice) => Promise<void>,
    fua?: boolean,
  ): Promise<void> {
    const release = await this.lock.acquire(offsetBytes, offsetBytes + lengthBytes);
    let watched: number[] = [];
    const watch = this.watch;
    try {
      const target = this.target;
      const onTarget = async () => {
        if (!target) return;
        await op(target);
        if (fua && !target.capabilities.fua) await target.flush();
      };
      const [main, replacement] = await Promise.allSettled([op(this.current), onTarget()]);
      if (replacement.status === "rejected") this.noteTargetError(replacement.reason);
      else if (target && writes) {
        this.mirroredBytes += lengthBytes;
        watched = this.markRewritten(offsetBytes, lengthBytes, watch);
      }
      if (main.status === "rejected") throw main.reason;
    } finally {
      release();
    }
    if (watch && watched.length > 0) await watch.persist(watched).catch((err) => this.noteTargetError(err));
  }

  /** Set the bits of the blocks wholly in the range; returns those `watch` selects. */
  private markRewritten(offsetBytes: number, lengthBytes: number, watch?: RewriteWatch): number[] {
    const map = this.rewritten;
    const watched: number[] = [];
    if (!map) return watched;
    const bs = this.rewrittenBlockSize;
    const end = Math.min(offsetBytes + lengthBytes, this.current.sizeBytes);
    // The last block may be partial: wholly written means up to the end of the device.
    for (
      let b = Math.ceil(offsetBytes / bs);
      b * bs < end && Math.min((b + 1) * bs, this.current.sizeBytes) <= end;
      b++
    ) {
      map[b >> 3]! |= 1 << (b & 7);
      if (watch?.watched(b)) watched.push(b);
    }
    return watched;
  }

  private noteTargetError(err: unknown): void {
    this.targetError ??= err;
  }

  private track<T>(p: Promise<T>): Promise<T> {
    const epoch = this.epoch;
    epoch.running++;
    p.then(epoch.done, epoch.done);
    return p;
  }

  /** Resolves once every request that started before this call has finished. */
  private nextEpoch(): Promise<void> {
    const old = this.epoch;
    this.epoch = new Epoch(old);
    return old.drained();
  }

  protected override async _close(): Promise<void> {
    const target = this.target;
    this.target = undefined;
    await Promise.allSettled([this.current.close(), ...(target ? [target.close()] : [])]);
  }

  /** The served main's own status (the tee is transparent, like the fence), plus the replacement. */
  override status(): DeviceStatus {
    return {
      ...this.current.status(),
      replace: { replacing: this.target?.describe() ?? null, mirroredBytes: this.mirroredBytes },
    };
  }
}

/**
 * Requests started between two arm/disarm/swap calls. `drained()` resolves once they and those of
 * every earlier epoch have finished (one counter and one bound callback per epoch, nothing per
 * request beyond an increment and a promise reaction).
 */
class Epoch {
  running = 0;
  private waiters: (() => void)[] = [];

  constructor(private readonly previous?: Epoch) {}

  readonly done = (): void => {
    if (--this.running === 0 && this.waiters.length > 0) {
      const waiters = this.waiters;
      this.waiters = [];
      for (const w of waiters) w();
    }
  };

  async drained(): Promise<void> {
    if (this.previous) await this.previous.drained();
    if (this.running > 0) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }
}
