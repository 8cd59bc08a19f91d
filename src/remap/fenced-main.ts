// The fence between the remap layer and main: no I/O overtakes an earlier overlapping write, and a
// main write that outlives its time budget is abandoned (it fails with WriteTimeoutError) while its
// byte range stays fenced until the lower write has really ended; a write not yet started is dropped.
import { tryReadNow, tryWriteNow } from "../block/answer-now.js";
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

/** A promise made only when someone waits for it (most flights end with nobody waiting). */
class Signal {
  private promise: Promise<void> | undefined;
  private resolve: (() => void) | undefined;

  wait(): Promise<void> {
    return (this.promise ??= new Promise<void>((resolve) => (this.resolve = resolve)));
  }

  fire(): void {
    this.resolve?.();
  }
}

const ENDED = 1;
const ANSWERED = 2;
const ABANDONED = 4;

/** One main write, zeroing or trim between its start and the end of the lower operation. */
class Flight {
  private state = 0;
  private signals: [Signal?, Signal?, Signal?] | undefined;
  /** Fails the caller's promise (set while the caller waits). */
  fail: ((err: Error) => void) | undefined;

  constructor(
    readonly start: number,
    readonly end: number,
    /** Clock time at which the write is abandoned (Infinity: never). */
    readonly deadline: number,
  ) {}

  /** The lower operation has ended (or the write was dropped before it started). */
  get ended(): Promise<void> {
    return this.waitFor(ENDED, 0);
  }
  /** The write was answered: ended or abandoned. */
  get answered(): Promise<void> {
    return this.waitFor(ANSWERED, 1);
  }
  /** The write was abandoned at its time budget (or dropped behind a fenced range). */
  get abandonedSignal(): Promise<void> {
    return this.waitFor(ABANDONED, 2);
  }
  get abandoned(): boolean {
    return (this.state & ABANDONED) !== 0;
  }
  get isAnswered(): boolean {
    return (this.state & ANSWERED) !== 0;
  }

  /** Mark `bits` (ENDED | ANSWERED | ABANDONED) and wake whoever waits for them. */
  mark(bits: number): void {
    const fresh = bits & ~this.state;
    this.state |= bits;
    const signals = this.signals;
    if (!signals || fresh === 0) return;
    if (fresh & ENDED) signals[0]?.fire();
    if (fresh & ANSWERED) signals[1]?.fire();
    if (fresh & ABANDONED) signals[2]?.fire();
  }

  private waitFor(bit: number, index: 0 | 1 | 2): Promise<void> {
    if (this.state & bit) return Promise.resolve();
    const signals = (this.signals ??= [undefined, undefined, undefined]);
    return (signals[index] ??= new Signal()).wait();
  }
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

  /**
   * Fast path (answer-now.ts) when no write in flight overlaps the range: nothing to wait behind, and
   * a write that ends before the call returns needs no flight (no deadline can pass, nothing can
   * overtake it).
   */
  protected override _readNow(offsetBytes: number, target: Uint8Array): boolean {
    if (this.overlapsFlight(offsetBytes, offsetBytes + target.length)) return false;
    return tryReadNow(this.lower, offsetBytes, target);
  }

  protected override _writeNow(offsetBytes: number, data: Uint8Array): boolean {
    if (this.overlapsFlight(offsetBytes, offsetBytes + data.length)) return false;
    return tryWriteNow(this.lower, offsetBytes, data);
  }

  private overlapsFlight(start: number, end: number): boolean {
    for (const f of this.flights) if (f.start < end && start < f.end) return true;
    return false;
  }

  /** A flush covers every write issued before it: wait until each was answered (abandoned ones stay fenced). */
  protected override async _flush(): Promise<void> {
    if (this.flights.length > 0) await Promise.all(this.flights.map((f) => f.answered));
    return this.lower.flush();
  }

  /**
   * Run a main write-like operation as a flight: behind the earlier overlapping ones, answered with
   * WriteTimeoutError at its deadline (its range fenced until the lower operation ends). Writes share
   * one time budget, so deadlines come in the order of `flights` and one timer (for the oldest
   * unanswered flight) serves them all.
   */
  private track(offsetBytes: number, lengthBytes: number, run: () => Promise<void>): Promise<void> {
    const start = offsetBytes;
    const end = offsetBytes + lengthBytes;
    const wait = this.earlier(start, end);
    const timeoutMs = this.options.writeTimeoutMs;
    const flight = new Flight(start, end, timeoutMs > 0 ? this.options.clock.now() + timeoutMs : Infinity);
    this.flights.push(flight);
    const op = wait
      ? wait.then((clear) => {
          // Behind a fenced write, or abandoned while it waited: it never reaches main, so it can
          // never land; it fails like a timed-out write and its block moves away.
          if (!clear || flight.abandoned) {
            this.droppedWrites++;
            this.abandon(flight, new WriteTimeoutError(this.name, offsetBytes, lengthBytes, timeoutMs));
            return;
          }
          return run();
        })
      : run();
    const finish = () => {
      this.flights.splice(this.flights.indexOf(flight), 1);
      flight.mark(ENDED | ANSWERED);
    };
    op.then(finish, finish);
    if (timeoutMs > 0 && this.timerCancel === undefined) this.armTimer();
    // Answered by the lower operation, or earlier by abandon() (the flight cannot be abandoned yet).
    return new Promise<void>((resolve, reject) => {
      flight.fail = reject;
      op.then(resolve, reject);
    });
  }

  /** Abandon `flight`: answered now with `err` (its range stays fenced until it ends). */
  private abandon(flight: Flight, err: Error): void {
    if (flight.abandoned) return;
    flight.mark(ABANDONED | ANSWERED);
    this.abandonedWrites++;
    flight.fail?.(err);
  }

  private timerCancel: (() => void) | undefined;

  /** Arm the one timer for the oldest flight not yet answered (none left: no timer). */
  private armTimer(): void {
    const next = this.flights.find((f) => !f.isAnswered && f.deadline !== Infinity);
    if (!next) return;
    const clock = this.options.clock;
    this.timerCancel = clock.setTimer(Math.max(0, next.deadline - clock.now()), () => {
      this.timerCancel = undefined;
      const now = clock.now();
      const timeoutMs = this.options.writeTimeoutMs;
      for (const f of [...this.flights]) {
        if (f.isAnswered || f.deadline > now) continue;
        this.abandon(f, new WriteTimeoutError(this.name, f.start, f.end - f.start, timeoutMs));
        this.report(f.start, f.end - f.start, timeoutMs);
      }
      this.armTimer();
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
