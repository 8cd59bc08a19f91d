// Tells a background copy of a set (replace-main) whether user I/O runs on the set, so it can go in
// small steps meanwhile: busy from the moment the set's user request count moves (background-scan
// reads do not count) or a user request waited for the copy, until a hold time after the last sign.

/** How long the signs of user I/O keep a copy in small steps. */
export const USER_IO_HOLD_MS = 1000;

/** Bytes per copy step while user I/O runs: a user request waits behind a small copy, not a large one. */
export const USER_IO_STEP_BYTES = 256 << 10;

/** Blocks per copy step while user I/O runs: USER_IO_STEP_BYTES, at least one block, at most `fullBlocks`. */
export function userIoStepBlocks(fullBlocks: number, blockSize: number): number {
  return Math.max(1, Math.min(fullBlocks, Math.floor(USER_IO_STEP_BYTES / blockSize)));
}

/** What the pacer reads of a set: its count of user requests started (RemappedDevice.userIoCount). */
export interface UserIoCounter {
  readonly userIoCount: number;
}

/** Busy detector of one job: busy() while user I/O ran within the last `holdMs`. */
export class UserIoPacer {
  private seen: number;
  private busyUntilMs = -Infinity;

  constructor(
    private readonly device: UserIoCounter,
    /** Clock in milliseconds (performance.now by default). */
    private readonly now: () => number = () => performance.now(),
    private readonly holdMs = USER_IO_HOLD_MS,
  ) {
    if (!(holdMs >= 0)) throw new RangeError(`user I/O hold of ${holdMs} ms is not >= 0`);
    this.seen = device.userIoCount;
  }

  /** A user request waited for the copy: busy for the hold time from now. */
  contended(): void {
    this.busyUntilMs = this.now() + this.holdMs;
  }

  /** Whether user I/O ran lately (requests started since the last look, or within the hold time). */
  busy(): boolean {
    const count = this.device.userIoCount;
    if (count !== this.seen) {
      this.seen = count;
      this.busyUntilMs = this.now() + this.holdMs;
    }
    return this.now() < this.busyUntilMs;
  }
}
