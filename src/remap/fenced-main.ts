// The fence between the remap layer and main: no I/O overtakes an earlier overlapping write, and a
// main write that outlives its time budget is abandoned (it fails with WriteTimeoutError) while its
// byte range stays fenced until the lower write has really ended; a write not yet started is dropped.
import { LayerDevice } from "../block/base-device.js";
import type { BlockDevice, DeviceStatus, WriteOptions, WriteZeroesOptions } from "../block/block-device.js";
import { FencedRangeError, WriteTimeoutError } from "./errors.js";
import type { RemapClock } from "./remap-clock.js";

/** Called once per abandoned write (the daemon logs it and counts it). */
export type FencedWriteListener = (event: FencedWriteEvent) => void;

/** One abandoned main write: where, and why. */
export interface FencedWriteEvent {
  /** First block the write touches (of `blockSize`). */
  readonly block: number;
  readonly offsetBytes: number;
  readonly lengthBytes: number;
  readonly timeoutMs: number;
  readonly reason: string;
}

/** Options of FencedMain. */
export interface FencedMainOptions {
  /** Abandon a write still running after this many ms (0: never). */
  readonly writeTimeoutMs: number;
  /** Block size of the layer above (events name the block). */
  readonly blockSize: number;
  readonly clock: RemapClock;
  readonly onFenced?: FencedWriteListener;
  /** Longest wait for fenced writes to end at close (default 30 s). */
  readonly closeWaitMs?: number;
}

interface Flight {
  readonly start: number;
  readonly end: number;
  /** Resolves when the lower write has ended (or was dropped before it started). */
  readonly ended: Promise<void>;
  /** Resolves when the write was answered: ended or abandoned. */
  readonly answered: Promise<void>;
  /** Resolves when the write is abandoned. */
  readonly abandonedSignal: Promise<void>;
  abandoned: boolean;
  abandon(): void;
}

/** Orders overlapping main I/O behind earlier writes and fences writes that missed their budget. */
export class FencedMain extends LayerDevice {
  readonly name: string;
  private readonly flights: Flight[] = [];
  /** Writes abandoned at their timeout (started or dropped). */
  abandonedWrites = 0;
  /** Abandoned writes dropped before they reached main. */
  droppedWrites = 0;

  constructor(
    lower: BlockDevice,
    private readonly options: FencedMainOptions,
  ) {
    super(lower);
    this.name = lower.describe();
  }

  /** Writes whose range is fenced right now (abandoned, lower write still running). */
  get fencedWrites(): number {
    let n = 0;
    for (const f of this.flights) if (f.abandoned) n++;
    return n;
  }

  /**
   * Wait for the earlier writes overlapping [start, end): true once they all ended, false as soon
   * as one of them is abandoned (the range is fenced); undefined when there is nothing to wait for.
   */
  private earlier(start: number, end: number): Promise<boolean> | undefined {
    if (this.flights.length === 0) return undefined;
    let overlapping: Flight[] | undefined;
    for (const f of this.flights) {
      if (f.start < end && start < f.end) {
        if (f.abandoned) return Promise.resolve(false);
        (overlapping ??= []).push(f);
      }
    }
    if (!overlapping) return undefined;
    return Promise.race([
      Promise.all(overlapping.map((f) => f.ended)).then(() => true),
      Promise.race(overlapping.map((f) => f.abandonedSignal)).then(() => false),
    ]);
  }

  /** Resolves once no abandoned write overlaps [offsetBytes, +lengthBytes) any more. */
  async unfenced(offsetBytes: number, lengthBytes: number): Promise<void> {
    const end = offsetBytes + lengthBytes;
    const fenced = this.flights.filter((f) => f.abandoned && f.start < end && offsetBytes < f.end);
    await Promise.all(fenced.map((f) => f.ended));
  }

  protected override async _read(offsetBytes: number, target: Uint8Array): Promise<void> {
    const wait = this.earlier(offsetBytes, offsetBytes + target.length);
    if (wait && !(await wait)) throw new FencedRangeError(this.name, offsetBytes, target.length);
    return this.lower.read(offsetBytes, target);
  }

  protected override _write(offsetBytes: number, data: Uint8Array, options: WriteOptions): Promise<void> {
    return this.track(offsetBytes, data.length, () => this.lower.write(offsetBytes, data, options));
  }

  protected override _writeZeroes(offsetBytes: number, lengthBytes: number, options: WriteZeroesOptions) {
    return this.track(offsetBytes, lengthBytes, () =>
      this.lower.writeZeroes(offsetBytes, lengthBytes, options),
    );
  }

  protected override _trim(offsetBytes: number, lengthBytes: number): Promise<void> {
    return this.track(offsetBytes, lengthBytes, () => this.lower.trim(offsetBytes, lengthBytes));
  }

  /** A flush covers every write issued before it: wait until each was answered (abandoned ones stay fenced). */
  protected override async _flush(): Promise<void> {
    if (this.flights.length > 0) await Promise.all(this.flights.map((f) => f.answered));
    return this.lower.flush();
  }

  private track(offsetBytes: number, lengthBytes: number, run: () => Promise<void>): Promise<void> {
    const start = offsetBytes;
    const end = offsetBytes + lengthBytes;
    const wait = this.earlier(start, end);
    let endFlight!: () => void;
    let answer!: () => void;
    let signal!: () => void;
    const flight: Flight = {
      start,
      end,
      ended: new Promise<void>((resolve) => (endFlight = resolve)),
      answered: new Promise<void>((resolve) => (answer = resolve)),
      abandonedSignal: new Promise<void>((resolve) => (signal = resolve)),
      abandoned: false,
      abandon: () => {
        if (flight.abandoned) return;
        flight.abandoned = true;
        this.abandonedWrites++;
        answer();
        signal();
      },
    };
    this.flights.push(flight);
    let fail: ((err: Error) => void) | undefined;
    const op = wait
      ? wait.then((clear) => {
          // Behind a fenced write, or abandoned while it waited: it never reaches main, so it can
          // never land; it fails like a timed-out write and its block moves away.
          if (!clear || flight.abandoned) {
            flight.abandon();
            this.droppedWrites++;
            fail?.(new WriteTimeoutError(this.name, offsetBytes, lengthBytes, this.options.writeTimeoutMs));
            return;
          }
          return run();
        })
      : run();
    const finish = () => {
      this.flights.splice(this.flights.indexOf(flight), 1);
      endFlight();
      answer();
    };
    op.then(finish, finish);
    const timeoutMs = this.options.writeTimeoutMs;
    return new Promise<void>((resolve, reject) => {
      fail = reject;
      const cancel =
        timeoutMs > 0
          ? this.options.clock.setTimer(timeoutMs, () => {
              if (flight.abandoned) return;
              flight.abandon();
              this.report(offsetBytes, lengthBytes, timeoutMs);
              reject(new WriteTimeoutError(this.name, offsetBytes, lengthBytes, timeoutMs));
            })
          : undefined;
      op.then(
        () => {
          cancel?.();
          resolve();
        },
        (err: unknown) => {
          cancel?.();
          reject(err as Error);
        },
      );
    });
  }

  private report(offsetBytes: number, lengthBytes: number, timeoutMs: number): void {
    try {
      this.options.onFenced?.({
        block: Math.floor(offsetBytes / this.options.blockSize),
        offsetBytes,
        lengthBytes,
        timeoutMs,
        reason: `main write still running after ${timeoutMs} ms: abandoned, range fenced until it ends`,
      });
    } catch {
      // A failing listener must not break the data path.
    }
  }

  /** Wait (bounded) for fenced writes to end, so nothing lands after the device is closed. */
  protected override async _close(): Promise<void> {
    if (this.flights.length > 0) {
      const all = Promise.all(this.flights.map((f) => f.ended));
      await Promise.race([all, this.options.clock.sleep(this.options.closeWaitMs ?? 30_000)]);
    }
    return this.lower.close();
  }

  /** Main's own status, plus the fence counters. */
  override status(): DeviceStatus {
    return {
      ...this.lower.status(),
      fence: {
        fencedWrites: this.fencedWrites,
        abandonedWrites: this.abandonedWrites,
        droppedWrites: this.droppedWrites,
      },
    };
  }

  describe(): string {
    return this.lower.describe();
  }
}
