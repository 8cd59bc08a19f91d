// Time-domain faults for the crash harness and the property test, in virtual time: main writes to
// "slow" blocks hang until the test lets them land (long after their budget), and outage windows
// fail every main read while the virtual clock is inside them.
import { LayerDevice } from "../block/base-device.js";
import type { BlockDevice, WriteOptions, WriteZeroesOptions } from "../block/block-device.js";
import { MediumError } from "../block/errors.js";
import type { VirtualClock } from "../remap/testing/virtual-clock.js";

/** A layer over main with slow blocks and read outages; time is the remap layer's virtual clock. */
export class TimeFaults extends LayerDevice {
  readonly name = "time-faults";
  /** Blocks whose writes hang until land(). */
  readonly slowBlocks = new Set<number>();
  /** Main reads fail while clock.now() < outageUntilMs. */
  outageUntilMs = -1;
  private held: (() => void)[] = [];
  /** Counters for the test's report. */
  readonly counts = { slowWrites: 0, landedLate: 0, outageReads: 0 };

  constructor(
    lower: BlockDevice,
    private readonly blockSize: number,
    readonly clock: VirtualClock,
  ) {
    super(lower);
  }

  /** Writes held right now. */
  get heldWrites(): number {
    return this.held.length;
  }

  /** Let every held write reach main now (in arrival order), long after its answer. */
  async land(): Promise<void> {
    const held = this.held;
    this.held = [];
    for (const go of held) go();
    await new Promise<void>((resolve) => setImmediate(resolve));
  }

  /** Fail main reads for the next `ms` of virtual time. */
  outage(ms: number): void {
    this.outageUntilMs = this.clock.now() + ms;
  }

  private touchesSlow(offsetBytes: number, lengthBytes: number): boolean {
    if (this.slowBlocks.size === 0) return false;
    const first = Math.floor(offsetBytes / this.blockSize);
    const last = Math.floor((offsetBytes + lengthBytes - 1) / this.blockSize);
    for (let b = first; b <= last; b++) if (this.slowBlocks.has(b)) return true;
    return false;
  }

  private async hold(): Promise<void> {
    this.counts.slowWrites++;
    await new Promise<void>((resolve) => this.held.push(resolve));
    this.counts.landedLate++;
  }

  protected override async _read(offsetBytes: number, target: Uint8Array): Promise<void> {
    if (this.clock.now() < this.outageUntilMs) {
      this.counts.outageReads++;
      throw new MediumError(this.name, "read", offsetBytes, target.length);
    }
    return this.lower.read(offsetBytes, target);
  }

  protected override async _write(
    offsetBytes: number,
    data: Uint8Array,
    options: WriteOptions,
  ): Promise<void> {
    if (this.touchesSlow(offsetBytes, data.length)) {
      const copy = Uint8Array.from(data);
      await this.hold();
      return this.lower.write(offsetBytes, copy, options);
    }
    return this.lower.write(offsetBytes, data, options);
  }

  protected override async _writeZeroes(
    offsetBytes: number,
    lengthBytes: number,
    options: WriteZeroesOptions,
  ): Promise<void> {
    if (this.touchesSlow(offsetBytes, lengthBytes)) await this.hold();
    return this.lower.writeZeroes(offsetBytes, lengthBytes, options);
  }

  describe(): string {
    return `time-faults:${this.lower.describe()}`;
  }
}
