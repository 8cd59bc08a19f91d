// Drain one spare of a served set: move every block whose slot is on it to a slot on another spare
// (read the old slot, write and flush the new one, commit the remap, free the old slot), each under
// the block's lock, several at a time, while user I/O goes on. A resumable job: the remap table is
// its cursor (what is still on the spare is what is left), so after a crash or restart running it
// again finishes it; progress is data (done, total, rate, ETA); pause and resume between blocks.
import type { RemappedDevice } from "../remap/remapped-device.js";
import { SpareOperationError } from "./errors.js";

/** Where a drain stands. */
export interface DrainProgress {
  readonly spare: number;
  readonly state: "running" | "paused" | "done" | "failed";
  /** Blocks moved off the spare so far. */
  readonly done: number;
  /** Blocks that were on the spare when the job started (plus any remapped there meanwhile). */
  readonly total: number;
  readonly rateBlocksPerSecond: number;
  /** Seconds left at the current rate (absent before the first move or when done). */
  readonly etaSeconds?: number;
  /** Blocks whose old slot could not be read: moved with their sectors marked lost. */
  readonly lostBlocks: number;
  readonly error?: string;
}

/** Options of a drain job. */
export interface DrainOptions {
  /** Clock of the rate and ETA, in milliseconds (default performance.now). */
  readonly now?: () => number;
  /** Blocks moved at the same time (default 16). */
  readonly concurrency?: number;
}

/** The blocks whose slot is on spare `index` now, in block order. */
export function blocksOnSpare(device: RemappedDevice, index: number): number[] {
  return device.blocksOnSpare(index);
}

/** One drain of one spare; start() runs it to the end. */
export class DrainJob {
  private moved = 0;
  private lost = 0;
  private total = 0;
  private state: DrainProgress["state"] = "running";
  private error: string | undefined;
  private gate: { promise: Promise<void>; open: () => void } | undefined;
  private startedMs = 0;
  private readonly now: () => number;
  private readonly concurrency: number;

  constructor(
    private readonly device: RemappedDevice,
    readonly spare: number,
    options: DrainOptions = {},
  ) {
    this.now = options.now ?? (() => performance.now());
    this.concurrency = options.concurrency ?? 16;
    if (!Number.isInteger(this.concurrency) || this.concurrency < 1 || this.concurrency > 1024)
      throw new SpareOperationError(
        device.name,
        `drain concurrency ${this.concurrency} is not an integer in 1..1024`,
      );
    const count = device.spareUsage().length;
    if (!Number.isInteger(spare) || spare < 0 || spare >= count)
      throw new SpareOperationError(
        device.name,
        `set "${device.name}" has no spare ${spare} (0..${count - 1})`,
      );
  }

  /** Move every block off the spare; resolves with the final progress (state done or failed). */
  async start(): Promise<DrainProgress> {
    const others = this.device.spareUsage().filter((s) => s.index !== this.spare);
    let blocks = blocksOnSpare(this.device, this.spare);
    const room = others.reduce((n, s) => n + s.freeBlocks, 0);
    if (blocks.length > room) {
      this.fail(
        `spare ${this.spare} holds ${blocks.length} blocks, the other spares have ${room} free slots`,
      );
      throw new SpareOperationError(this.device.name, `set "${this.device.name}": ${this.error!}`);
    }
    // New slots come from the other spares from now on (the allocator avoids "failing" spares).
    this.device.avoidSpare(this.spare);
    this.startedMs = this.now();
    this.total = blocks.length;
    try {
      while (blocks.length > 0) {
        // Several blocks move at once (each under its own lock), so their metadata commits share
        // journal flushes (group commit).
        let next = 0;
        const worker = async () => {
          while (next < blocks.length) {
            if (this.gate) await this.gate.promise;
            const block = blocks[next++];
            if (block !== undefined) await this.move(block);
          }
        };
        await Promise.all(Array.from({ length: this.concurrency }, worker));
        // Remaps made on the spare while it drained (no room elsewhere at that moment) go too.
        blocks = blocksOnSpare(this.device, this.spare);
        this.total += blocks.length;
      }
      this.state = "done";
    } catch (err) {
      this.fail(err instanceof Error ? err.message : String(err));
      throw err;
    }
    return this.progress();
  }

  private fail(why: string): void {
    this.state = "failed";
    this.error = why;
  }

  private async move(block: number): Promise<void> {
    const outcome = await this.device.moveOffSpare(block, this.spare, `drain of spare ${this.spare}`);
    if (outcome === "not-on-spare") return;
    if (outcome === "no-room")
      throw new SpareOperationError(
        this.device.name,
        `no free slot outside spare ${this.spare} for block ${block}`,
      );
    if (outcome === "moved-lost") this.lost++;
    this.moved++;
  }

  /** Stop between two blocks until resume(). */
  pause(): DrainProgress {
    if (this.state === "running" && !this.gate) {
      let open = () => {};
      const promise = new Promise<void>((resolve) => (open = resolve));
      this.gate = { promise, open };
      this.state = "paused";
    }
    return this.progress();
  }

  resume(): DrainProgress {
    if (this.gate) {
      const { open } = this.gate;
      this.gate = undefined;
      if (this.state === "paused") this.state = "running";
      open();
    }
    return this.progress();
  }

  progress(): DrainProgress {
    const seconds = (this.now() - this.startedMs) / 1000;
    const rate = seconds > 0 ? this.moved / seconds : 0;
    const left = this.total - this.moved;
    return {
      spare: this.spare,
      state: this.state,
      done: this.moved,
      total: this.total,
      rateBlocksPerSecond: rate,
      ...(rate > 0 && this.state !== "done" ? { etaSeconds: left / rate } : {}),
      lostBlocks: this.lost,
      ...(this.error ? { error: this.error } : {}),
    };
  }
}
