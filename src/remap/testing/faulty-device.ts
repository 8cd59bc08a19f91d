// Test-only fault layer with exact control: persistent bad sectors for reads / writes, and transient
// failures that fail the next N operations touching a sector. Errors are MediumErrors, like real media.
import type { WriteOptions, WriteZeroesOptions } from "../../block/block-device.js";
import type { BlockDevice } from "../../block/block-device.js";
import { LayerDevice } from "../../block/base-device.js";
import { MediumError } from "../../block/errors.js";

const SECTOR = 512;

/** A layer that fails chosen sectors; rules can change at any time. */
export class FaultyDevice extends LayerDevice {
  readonly name: string;
  /** Sectors whose reads always fail. */
  readonly badReads = new Set<number>();
  /** Sectors whose writes (and zeroing) always fail. */
  readonly badWrites = new Set<number>();
  /** Sector -> number of upcoming reads touching it that fail. */
  readonly transientReads = new Map<number, number>();
  /** Sector -> number of upcoming writes touching it that fail. */
  readonly transientWrites = new Map<number, number>();
  /** A write that touches a bad-read sector heals it (firmware reallocation). */
  healOnWrite = false;
  failFlush = false;
  /** Count of operations that reached the lower device. */
  lowerWrites = 0;
  lowerReads = 0;

  constructor(lower: BlockDevice, name = "faulty") {
    super(lower);
    this.name = name;
  }

  /** Fail reads (and optionally writes) of every sector of a `blockSize` block. */
  breakBlock(block: number, blockSize: number, how: { reads?: boolean; writes?: boolean }): void {
    for (let s = (block * blockSize) / SECTOR; s < ((block + 1) * blockSize) / SECTOR; s++) {
      if (how.reads) this.badReads.add(s);
      if (how.writes) this.badWrites.add(s);
    }
  }

  private check(op: "read" | "write", offsetBytes: number, lengthBytes: number): void {
    const first = Math.floor(offsetBytes / SECTOR);
    const last = Math.floor((offsetBytes + lengthBytes - 1) / SECTOR);
    const bad = op === "read" ? this.badReads : this.badWrites;
    const transient = op === "read" ? this.transientReads : this.transientWrites;
    let fail = false;
    for (const s of bad) if (s >= first && s <= last) fail = true;
    for (const [s, n] of transient) {
      if (s >= first && s <= last && n > 0) {
        fail = true;
        if (n === 1) transient.delete(s);
        else transient.set(s, n - 1);
      }
    }
    if (op === "write" && this.healOnWrite && !fail) {
      for (const s of [...this.badReads]) if (s >= first && s <= last) this.badReads.delete(s);
    }
    if (fail) throw new MediumError(this.name, op, offsetBytes, lengthBytes);
  }

  protected override async _read(offsetBytes: number, target: Uint8Array): Promise<void> {
    this.check("read", offsetBytes, target.length);
    this.lowerReads++;
    await this.lower.read(offsetBytes, target);
  }

  protected override async _write(
    offsetBytes: number,
    data: Uint8Array,
    options: WriteOptions,
  ): Promise<void> {
    this.check("write", offsetBytes, data.length);
    this.lowerWrites++;
    await this.lower.write(offsetBytes, data, options);
  }

  protected override async _writeZeroes(
    offsetBytes: number,
    lengthBytes: number,
    options: WriteZeroesOptions,
  ) {
    this.check("write", offsetBytes, lengthBytes);
    this.lowerWrites++;
    await this.lower.writeZeroes(offsetBytes, lengthBytes, options);
  }

  protected override async _flush(): Promise<void> {
    if (this.failFlush) throw new MediumError(this.name, "flush", 0, 0);
    await this.lower.flush();
  }

  describe(): string {
    return `faulty:${this.lower.describe()}`;
  }
}
