// Test-only slow medium: writes touching a gated byte range hang until the test opens the gate,
// so a test decides exactly when a "slow" lower write lands (no sleeps, no real time).
import type { WriteOptions } from "../../block/block-device.js";
import { LayerDevice } from "../../block/base-device.js";
import type { BlockDevice } from "../../block/block-device.js";

/** A layer whose writes into [gateStart, gateEnd) wait for open(). */
export class GatedDevice extends LayerDevice {
  readonly name = "gated";
  private gate: { start: number; end: number; opened: Promise<void>; open: () => void } | undefined;
  /** Writes that reached the lower device, in order: [offsetBytes, first byte]. */
  readonly landed: [number, number][] = [];
  /** Writes currently held at the gate. */
  held = 0;

  constructor(lower: BlockDevice) {
    super(lower);
  }

  /** Hold every later write touching [startBytes, endBytes) until open(). */
  closeGate(startBytes: number, endBytes: number): void {
    let open!: () => void;
    const opened = new Promise<void>((resolve) => (open = resolve));
    this.gate = { start: startBytes, end: endBytes, opened, open };
  }

  /** Let held writes through (they land in the order they arrived). */
  open(): void {
    const gate = this.gate;
    this.gate = undefined;
    gate?.open();
  }

  protected override async _write(
    offsetBytes: number,
    data: Uint8Array,
    options: WriteOptions,
  ): Promise<void> {
    const gate = this.gate;
    if (gate && offsetBytes < gate.end && gate.start < offsetBytes + data.length) {
      const copy = Uint8Array.from(data);
      this.held++;
      await gate.opened;
      this.held--;
      this.landed.push([offsetBytes, copy[0]!]);
      return this.lower.write(offsetBytes, copy, options);
    }
    this.landed.push([offsetBytes, data[0]!]);
    return this.lower.write(offsetBytes, data, options);
  }

  describe(): string {
    return `gated:${this.lower.describe()}`;
  }
}
