// A block device that emulates a volatile write cache over a durable byte image, for crash tests:
// writes land in the cache (reads see them); FLUSH or FUA makes them durable; crash() builds the
// image a power cut could leave: any subset of cached writes, in any order, each possibly torn.
import type { DeviceCapabilities, WriteOptions } from "../block/block-device.js";
import { BaseDevice } from "../block/base-device.js";
import { SpecError } from "../block/errors.js";
import type { Prng } from "../block/prng.js";

/** One recorded operation. */
export interface CrashOperation {
  /** Global sequence number (shared by every device of one CrashRecorder). */
  readonly seq: number;
  readonly device: string;
  readonly op: "write" | "flush";
  readonly offsetBytes: number;
  readonly lengthBytes: number;
  readonly fua: boolean;
}

/** A write still in the volatile cache. */
export interface CachedWrite {
  readonly seq: number;
  readonly offsetBytes: number;
  readonly data: Uint8Array;
}

/** Called before every write/flush of a device; may be async (the operation waits for it). */
export type CrashHook = (op: CrashOperation, device: CrashDevice) => void | Promise<void>;

/** Shared sequence numbering, operation log and hook for a group of devices that crash together. */
export class CrashRecorder {
  seq = 0;
  readonly log: CrashOperation[] = [];
  /** Keep the log (off for long runs). */
  keepLog = true;
  hook: CrashHook | undefined;
}

/** Options of a crash device. */
export interface CrashDeviceOptions {
  readonly sizeBytes: number;
  readonly name?: string;
  /** Initial durable content (copied); zeroes when absent. */
  readonly image?: Uint8Array;
  readonly recorder?: CrashRecorder;
}

/** Options of crash(). */
export interface CrashOptions {
  /** Probability that a surviving cached write is torn at 512-byte granularity (default 0.3; 0 = never). */
  readonly tornProbability?: number;
  /** Probability that each cached write survives (default 0.5). */
  readonly keepProbability?: number;
}

const SECTOR = 512;

/** A device's state at one moment: what is durable and what is still cached (see capture()). */
export interface CrashPoint {
  /** Recorder sequence number of the last operation before this point. */
  readonly seq: number;
  readonly durable: Uint8Array;
  readonly cached: readonly CachedWrite[];
}

/** Build one possible post-crash image of a crash point (the point itself is not modified). */
export function crashImage(point: CrashPoint, rng: Prng, options: CrashOptions = {}): Uint8Array {
  const keep = options.keepProbability ?? 0.5;
  const torn = options.tornProbability ?? 0.3;
  const image = point.durable.slice();
  const chosen = point.cached.filter(() => rng.next() < keep);
  for (let i = chosen.length - 1; i > 0; i--) {
    const j = rng.nextInt(i + 1);
    [chosen[i], chosen[j]] = [chosen[j]!, chosen[i]!];
  }
  for (const w of chosen) {
    if (rng.next() >= torn) {
      image.set(w.data, w.offsetBytes);
      continue;
    }
    const end = w.offsetBytes + w.data.length;
    for (let s = Math.floor(w.offsetBytes / SECTOR) * SECTOR; s < end; s += SECTOR) {
      if (rng.next() < 0.5) continue;
      const from = Math.max(s, w.offsetBytes);
      const to = Math.min(s + SECTOR, end);
      image.set(w.data.subarray(from - w.offsetBytes, to - w.offsetBytes), from);
    }
  }
  return image;
}

/** BlockDevice with a volatile write cache and crash-image generation. */
export class CrashDevice extends BaseDevice {
  readonly sizeBytes: number;
  readonly name: string;
  readonly capabilities: DeviceCapabilities = {
    flush: true,
    fua: true,
    trim: false,
    writeZeroes: false,
    readOnly: false,
  };
  readonly recorder: CrashRecorder;
  /** What survives a crash for sure. */
  private readonly durable: Uint8Array;
  /** What reads see: durable + cached writes. */
  private readonly current: Uint8Array;
  private cached: CachedWrite[] = [];

  constructor(options: CrashDeviceOptions) {
    super();
    const { sizeBytes } = options;
    if (!Number.isSafeInteger(sizeBytes) || sizeBytes <= 0 || sizeBytes % SECTOR !== 0) {
      throw new SpecError(
        String(sizeBytes),
        `crash device size ${sizeBytes} is not a positive multiple of 512`,
      );
    }
    if (options.image && options.image.length !== sizeBytes) {
      throw new SpecError(
        String(sizeBytes),
        `crash device image has ${options.image.length} bytes, expected ${sizeBytes}`,
      );
    }
    this.sizeBytes = sizeBytes;
    this.name = options.name ?? `crash:${sizeBytes}`;
    this.durable = options.image ? options.image.slice() : new Uint8Array(sizeBytes);
    this.current = this.durable.slice();
    this.recorder = options.recorder ?? new CrashRecorder();
  }

  /** Writes in the volatile cache, oldest first. */
  get cachedWrites(): readonly CachedWrite[] {
    return this.cached;
  }

  /** A copy of the durable image (what a crash that keeps no cached write leaves). */
  durableImage(): Uint8Array {
    return this.durable.slice();
  }

  /** A copy of what reads currently see (every cached write applied: a crash right after a flush). */
  currentImage(): Uint8Array {
    return this.current.slice();
  }

  /**
   * The durable image after a crash now: a random subset of the cached writes applied in random
   * order, each torn (only some of its 512-byte sectors applied) with probability tornProbability.
   */
  crash(rng: Prng, options: CrashOptions = {}): Uint8Array {
    return crashImage({ seq: this.recorder.seq, durable: this.durable, cached: this.cached }, rng, options);
  }

  /** Freeze this device's state now, to build crash images from it later (see crashImage). */
  capture(): CrashPoint {
    return { seq: this.recorder.seq, durable: this.durable.slice(), cached: this.cached.slice() };
  }

  /** Forget the cache (a crash that keeps nothing) and go on from the durable image. */
  dropCache(): void {
    this.cached = [];
    this.current.set(this.durable);
  }

  private async record(
    op: "write" | "flush",
    offsetBytes: number,
    lengthBytes: number,
    fua: boolean,
  ): Promise<void> {
    const r = this.recorder;
    const entry: CrashOperation = { seq: ++r.seq, device: this.name, op, offsetBytes, lengthBytes, fua };
    if (r.keepLog) r.log.push(entry);
    if (r.hook) await r.hook(entry, this);
  }

  protected async _read(offsetBytes: number, target: Uint8Array): Promise<void> {
    target.set(this.current.subarray(offsetBytes, offsetBytes + target.length));
  }

  protected async _write(offsetBytes: number, data: Uint8Array, options: WriteOptions): Promise<void> {
    const fua = options.fua ?? false;
    await this.record("write", offsetBytes, data.length, fua);
    const copy = data.slice();
    this.current.set(copy, offsetBytes);
    if (!fua) {
      this.cached.push({ seq: this.recorder.seq, offsetBytes, data: copy });
      return;
    }
    // A FUA write is durable, and supersedes the overlapping parts of older cached writes.
    this.durable.set(copy, offsetBytes);
    const end = offsetBytes + copy.length;
    this.cached = this.cached.flatMap((w) => {
      const wEnd = w.offsetBytes + w.data.length;
      if (wEnd <= offsetBytes || w.offsetBytes >= end) return [w];
      const parts: CachedWrite[] = [];
      if (w.offsetBytes < offsetBytes)
        parts.push({ ...w, data: w.data.subarray(0, offsetBytes - w.offsetBytes) });
      if (wEnd > end)
        parts.push({ seq: w.seq, offsetBytes: end, data: w.data.subarray(end - w.offsetBytes) });
      return parts;
    });
  }

  protected async _flush(): Promise<void> {
    await this.record("flush", 0, 0, false);
    for (const w of this.cached) this.durable.set(w.data, w.offsetBytes);
    this.cached = [];
  }

  protected override statusExtra(): Record<string, unknown> {
    return { cachedWrites: this.cached.length };
  }

  describe(): string {
    return this.name;
  }
}
