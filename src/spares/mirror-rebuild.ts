// Rebuild of a mirrored set (mirror = 2): every remapped block that lacks a copy on a healthy spare
// (its second copy was on a spare that is missing or failing, or could not be made) gets it back on
// the remaining or newly added spares: read a good copy, write and flush the new one, commit, per
// block under its lock while user I/O goes on. Resumable: what is left is what the table says.
// With `onto`, every new copy goes to that spare (e.g. the one just added in place of a lost one).
import { MissingDevice } from "../block/missing-device.js";
import { TurnKeeper } from "../core/loop-turns.js";
import type { RemappedDevice } from "../remap/remapped-device.js";
import { SpareOperationError } from "./errors.js";

/** Options of a rebuild. */
export interface MirrorRebuildOptions {
  /** Index of the spare that receives every new copy (default: any healthy spare, by the allocation policy). */
  readonly onto?: number;
  /** How `onto` is named in messages (the device the admin gave). */
  readonly ontoName?: string;
  readonly now?: () => number;
}

/** Where a rebuild stands. */
export interface MirrorRebuildProgress {
  readonly state: "running" | "done" | "failed";
  /** Blocks handled so far and blocks that needed a copy when the job started. */
  readonly done: number;
  readonly total: number;
  /** Blocks that have two copies again. */
  readonly rebuilt: number;
  /** Blocks still with one copy: no healthy spare other than their copy's has a free slot. */
  readonly singleCopy: number;
  /** Blocks none of whose copies could be read (their data is reported lost by reads). */
  readonly unreadable: number;
  readonly rateBlocksPerSecond: number;
  readonly etaSeconds?: number;
  /** The spare receiving every new copy, when one was given. */
  readonly onto?: number;
  readonly error?: string;
}

/** One rebuild of a set; start() runs it to the end. */
export class MirrorRebuildJob {
  private state: MirrorRebuildProgress["state"] = "running";
  private done = 0;
  private total = 0;
  private rebuilt = 0;
  private single = 0;
  private unreadable = 0;
  private startedMs = 0;
  private error: string | undefined;
  private readonly now: () => number;
  private readonly onto: number | undefined;

  constructor(
    private readonly device: RemappedDevice,
    options: MirrorRebuildOptions = {},
  ) {
    this.now = options.now ?? (() => performance.now());
    if (device.mirrorCopies !== 2)
      throw new SpareOperationError(
        device.name,
        `set "${device.name}" is not mirrored (create it with --mirror 2 to keep two copies)`,
      );
    this.onto = options.onto;
    if (options.onto !== undefined) checkTarget(device, options.onto, options.ontoName);
  }

  /** Re-create every missing copy; resolves with the final progress. */
  async start(): Promise<MirrorRebuildProgress> {
    const blocks = this.device.blocksNeedingCopies();
    this.total = blocks.length;
    this.startedMs = this.now();
    try {
      // Turns for the event loop between blocks: spares in memory answer every step at once.
      const turns = new TurnKeeper(this.now);
      for (const block of blocks) {
        await turns.due();
        const outcome = await this.device.rebuildCopies(block, this.onto);
        this.done++;
        if (outcome === "rebuilt") this.rebuilt++;
        else if (outcome === "single") this.single++;
        else if (outcome === "unreadable") this.unreadable++;
      }
      this.state = "done";
    } catch (err) {
      this.state = "failed";
      this.error = err instanceof Error ? err.message : String(err);
      throw err;
    }
    return this.progress();
  }

  progress(): MirrorRebuildProgress {
    const seconds = (this.now() - this.startedMs) / 1000;
    const rate = seconds > 0 ? this.done / seconds : 0;
    return {
      state: this.state,
      done: this.done,
      total: this.total,
      rebuilt: this.rebuilt,
      singleCopy: this.single,
      unreadable: this.unreadable,
      rateBlocksPerSecond: rate,
      ...(rate > 0 && this.state === "running" ? { etaSeconds: (this.total - this.done) / rate } : {}),
      ...(this.onto !== undefined ? { onto: this.onto } : {}),
      ...(this.error ? { error: this.error } : {}),
    };
  }
}

/** Refuse a rebuild onto spare `index` unless it is a present, healthy member that takes new slots. */
function checkTarget(device: RemappedDevice, index: number, name = `spare ${index}`): void {
  const refuse = (why: string) =>
    new SpareOperationError(device.name, `cannot rebuild onto ${name} of set "${device.name}": ${why}`);
  const spare = device.setIdentity.spares[index];
  if (!Number.isInteger(index) || !spare)
    throw refuse(`it is not a member (spares 0..${device.setIdentity.spares.length - 1})`);
  if (spare.removed) throw refuse("it has been removed from the set");
  if (device.spareDevices[index] instanceof MissingDevice) throw refuse("it is missing");
  if (device.isSpareAvoided(index)) throw refuse("it takes no new slots (drained, or it failed a write)");
}
