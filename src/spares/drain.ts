// Drain one spare of a served set: move every block whose slot is on it to a slot on another spare,
// in batches (lock the batch's blocks, read old slots in contiguous runs, write new slots in runs),
// a few batches copied at a time while the batches written so far are committed as a group (one
// flush per destination spare, one metadata commit, then their old slots freed), while user I/O goes
// on (a block written meanwhile waits for its batch's commit and then lands in the new slot). A resumable job: the remap table is
// its cursor (what is still on the spare is what is left); progress is data; pause and resume
// between batches. Spares in memory answer every step at once: the drain gives the event loop a turn
// before each batch (and every millisecond between mirrored blocks, core/loop-turns.ts), or user I/O
// would wait for its end.
import { batchBuffers } from "../block/aligned-buffers.js";
import { copyOffload, lendsFile, type CopyOffload } from "../block/copy-offload.js";
import { FileDevice } from "../block/file-device.js";
import { findLayer } from "../block/open-device.js";
import { nextTurn, TurnKeeper } from "../core/loop-turns.js";
import { SpareStore } from "../metadata/spare-store.js";
import type { RemappedDevice } from "../remap/remapped-device.js";
import type { WrittenSpareBatch } from "../remap/spare-batch-move.js";
import { SpareOperationError } from "./errors.js";
import { PauseGate } from "./pause-gate.js";
import { USER_IO_HOLD_MS, USER_IO_STEP_BYTES, UserIoPacer, userIoStepBlocks } from "./user-io-pacer.js";

/** Bytes moved per batch by default (one flush and one metadata commit each). */
export const DRAIN_BATCH_BYTES = 2 << 20;

/**
 * Bytes per batch by default when a spare of the set is opened O_DIRECT: there every flush and
 * journal write is a device round trip, and 8 MiB batches drained about 1.2x faster than 2 MiB
 * (docs/PERFORMANCE.md); through the page cache and on tmpfs the size made no measurable difference.
 */
export const DRAIN_DIRECT_BATCH_BYTES = 8 << 20;

/** Batches copied at the same time by default (each read, then written). */
export const DRAIN_DEPTH = 2;

/**
 * Batches copied at the same time by default when worker threads copy them (spares are files through
 * the page cache, copy-offload.ts): while a worker copies one batch the event loop locks and
 * allocates the next. On tmpfs 4 in flight drained at 80 - 89 % of dd against 68 - 78 % with 2
 * (docs/PERFORMANCE.md).
 */
export const DRAIN_OFFLOAD_DEPTH = 4;

/**
 * Written batches waiting for their group commit, per copier, before the copiers wait: bounds how
 * many blocks are locked and how much is written but not yet committed.
 */
const UNCOMMITTED_PER_COPIER = 8;

/**
 * Written batches per copier a group commit waits for while the copiers go on: fewer flushes and
 * journal appends (with the defaults a group is 16 MiB through the page cache, 64 MiB with O_DIRECT
 * spares; smaller groups measured slower on ext4, docs/PERFORMANCE.md).
 */
const GROUP_PER_COPIER = 4;

/**
 * The drain yields to user I/O (UserIoPacer): once user I/O ran on the set (or waited for a block of
 * a batch), for this long the drain goes in small steps (batches of DRAIN_BUSY_BATCH_BYTES, each
 * committed at once, at most one per copier written and not committed), so a user request waits
 * behind a small copy and a small commit instead of a group's; an idle drain keeps the large batches
 * and group commits. The same hold as replace-main's.
 */
export const DRAIN_BUSY_HOLD_MS = USER_IO_HOLD_MS;

/** Bytes per batch while user I/O runs (see DRAIN_BUSY_HOLD_MS): replace-main's step size. */
export const DRAIN_BUSY_BATCH_BYTES = USER_IO_STEP_BYTES;

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
  /**
   * Clock of the rate, the ETA and the event-loop turns between mirrored blocks (TurnKeeper), in
   * milliseconds (default performance.now).
   */
  readonly now?: () => number;
  /**
   * Bytes per batch (default DRAIN_BATCH_BYTES, DRAIN_DIRECT_BATCH_BYTES when a spare is O_DIRECT; at
   * least one block): one flush and one commit each.
   */
  readonly batchBytes?: number;
  /**
   * Batches copied at the same time (default defaultDrainDepth(), 1..64); commits run beside the
   * copies, a group of written batches at a time.
   */
  readonly depth?: number;
  /**
   * Worker threads that copy the batches between spares that lend their files (copy-offload.ts):
   * default the process's shared ones; false copies on the event loop.
   */
  readonly copies?: CopyOffload | false;
}

/** The blocks whose slot is on spare `index` now, in block order. */
export function blocksOnSpare(device: RemappedDevice, index: number): number[] {
  return device.blocksOnSpare(index);
}

/** Whether a spare of `device` is a file opened O_DIRECT. */
function hasDirectSpare(device: RemappedDevice): boolean {
  return device.spareDevices.some((d) => findLayer(d, FileDevice)?.direct === true);
}

/** The default batch size for `device`: larger when a spare bypasses the page cache. */
export function defaultBatchBytes(device: RemappedDevice): number {
  return hasDirectSpare(device) ? DRAIN_DIRECT_BATCH_BYTES : DRAIN_BATCH_BYTES;
}

/**
 * Whether worker threads copy the batches of a drain of spare `index`: the drained spare lends its
 * file (a file or block device through the page cache) and copies are not turned off.
 */
export function copiedByWorkers(
  device: RemappedDevice,
  index: number,
  copies: CopyOffload | false | undefined,
): boolean {
  const spare = device.spareDevices[index];
  return copies !== false && spare !== undefined && lendsFile(spare, false);
}

/** The default depth of a drain of spare `index` (DRAIN_OFFLOAD_DEPTH when workers copy). */
export function defaultDrainDepth(
  device: RemappedDevice,
  index: number,
  copies?: CopyOffload | false,
): number {
  return copiedByWorkers(device, index, copies) ? DRAIN_OFFLOAD_DEPTH : DRAIN_DEPTH;
}

/** One drain of one spare; start() runs it to the end. */
export class DrainJob {
  private moved = 0;
  private lost = 0;
  private total = 0;
  private state: DrainProgress["state"] = "running";
  private error: string | undefined;
  private readonly gate = new PauseGate();
  private startedMs = 0;
  private finished: Promise<void> = Promise.resolve();
  private readonly now: () => number;
  private readonly batchBlocks: number;
  private readonly depth: number;
  /** Batch buffers memory-aligned (a spare is O_DIRECT), so that spare reads and writes them in place. */
  private readonly alignedBuffers: boolean;
  private readonly copies: CopyOffload | undefined;

  constructor(
    private readonly device: RemappedDevice,
    readonly spare: number,
    options: DrainOptions = {},
  ) {
    this.now = options.now ?? (() => performance.now());
    const batchBytes = options.batchBytes ?? defaultBatchBytes(device);
    if (!Number.isInteger(batchBytes) || batchBytes < 1 || batchBytes > 1 << 30)
      throw new SpareOperationError(
        device.name,
        `drain batch of ${batchBytes} bytes is not an integer in 1..1 GiB`,
      );
    this.batchBlocks = Math.max(1, Math.floor(batchBytes / device.blockSize));
    this.alignedBuffers = hasDirectSpare(device);
    this.copies = options.copies === false ? undefined : (options.copies ?? copyOffload);
    this.depth = options.depth ?? defaultDrainDepth(device, spare, options.copies);
    if (!Number.isInteger(this.depth) || this.depth < 1 || this.depth > 64)
      throw new SpareOperationError(device.name, `drain depth ${this.depth} is not an integer in 1..64`);
    const count = device.spareUsage().length;
    if (!Number.isInteger(spare) || spare < 0 || spare >= count)
      throw new SpareOperationError(
        device.name,
        `set "${device.name}" has no spare ${spare} (0..${count - 1})`,
      );
  }

  /** Move every block off the spare; resolves with the final progress (state done or failed). */
  start(): Promise<DrainProgress> {
    const run = this.run();
    this.finished = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** Resolves once the job has ended (done or failed); at once when it was never started. */
  settled(): Promise<void> {
    return this.finished;
  }

  private async run(): Promise<DrainProgress> {
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
    // Made as the job starts: user requests before it do not make it yield.
    const pacer = new UserIoPacer(this.device, this.now, DRAIN_BUSY_HOLD_MS);
    this.total = blocks.length;
    try {
      await this.recordDraining();
      while (blocks.length > 0) {
        blocks = await this.moveMirrored(blocks);
        await this.moveAll(blocks, pacer);
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

  /**
   * Mirrored sets: move the copies of mirrored blocks one by one (src/remap/spare-move.ts keeps the
   * two copies on two different spares); returns the blocks left for the batch engine.
   */
  private async moveMirrored(blocks: readonly number[]): Promise<number[]> {
    if (this.device.mirrorCopies !== 2) return [...blocks];
    const rest: number[] = [];
    // Turns for the event loop between mirrored blocks: spares in memory answer every step at once.
    const turns = new TurnKeeper(this.now);
    for (const block of blocks) {
      if (this.device.copySpares(block).length < 2) {
        rest.push(block);
        continue;
      }
      await this.gate.wait();
      await turns.due();
      const outcome = await this.device.moveOffSpare(block, this.spare, `drain of spare ${this.spare}`);
      if (outcome === "no-room")
        throw new SpareOperationError(
          this.device.name,
          `no room outside spare ${this.spare} for block ${block}`,
        );
      if (outcome !== "not-on-spare") this.moved++;
      if (outcome === "moved-lost") this.lost++;
    }
    return rest;
  }

  /**
   * Move `blocks` batch by batch as a pipeline: `depth` copiers each lock a batch, read its old slots
   * and write its new ones, then hand it to one committer, which makes every batch written meanwhile
   * durable as a group (one flush per destination spare, one metadata append: each batch's new slots
   * are still flushed before its commit, its old slots freed only after it) while the copiers go on.
   * At most UNCOMMITTED_PER_COPIER x depth batches are written and not yet committed (they stay locked);
   * while `pacer` says user I/O runs, small batches and at most one per copier (DRAIN_BUSY_HOLD_MS).
   */
  private async moveAll(blocks: readonly number[], pacer: UserIoPacer): Promise<void> {
    const bytes = Math.min(blocks.length, this.batchBlocks) * this.device.blockSize;
    /**
     * Batch buffers not in use: reused, at most `depth` made (a buffer is free once its batch is
     * written). With an O_DIRECT spare they are memory-aligned, so it reads and writes them in place
     * (no bounce copy), and kept for the next drain (fresh memory for every drain measured slower);
     * through the page cache plain arrays measured as fast or faster (docs/PERFORMANCE.md).
     */
    const buffers: Uint8Array[] = [];
    const maxUncommitted = UNCOMMITTED_PER_COPIER * this.depth;
    const minGroup = GROUP_PER_COPIER * this.depth;
    let nextAt = 0;
    let uncommitted = 0;
    let copiersLeft = this.depth;
    let failure: { error: unknown } | undefined;
    const ready: WrittenSpareBatch[] = [];
    let wakeCommitter: (() => void) | undefined;
    let wakeCopiers: (() => void)[] = [];
    const poke = (): void => {
      wakeCommitter?.();
      wakeCommitter = undefined;
    };
    /** User I/O waits for a block of a batch: small steps for a while, and commit what is written. */
    const contended = (): void => {
      pacer.contended();
      poke();
    };
    const limit = (): number => (pacer.busy() ? this.depth : maxUncommitted);
    const busyBatchBlocks = userIoStepBlocks(this.batchBlocks, this.device.blockSize);
    const copier = async (): Promise<void> => {
      while (failure === undefined && nextAt < blocks.length) {
        // A turn for the event loop before each batch (a batch is at most a few milliseconds of work):
        // with spares in memory nothing else in the drain waits for one.
        await nextTurn();
        if (failure !== undefined || nextAt >= blocks.length) break;
        if (this.gate.isClosed) {
          poke(); // commit what is written before the pause
          await this.gate.wait();
          continue;
        }
        if (uncommitted >= limit()) {
          await new Promise<void>((resolve) => wakeCopiers.push(resolve));
          continue;
        }
        const at = nextAt;
        const count = pacer.busy() ? busyBatchBlocks : this.batchBlocks;
        nextAt += count;
        uncommitted++;
        const buffer =
          buffers.pop() ?? (this.alignedBuffers ? batchBuffers.take(bytes) : new Uint8Array(bytes));
        try {
          ready.push(
            await this.device.moveSpareBatch(
              blocks.slice(at, at + count),
              this.spare,
              this.batchBlocks,
              buffer,
              contended,
              this.copies,
            ),
          );
        } catch (error) {
          failure ??= { error };
          uncommitted--;
        } finally {
          buffers.push(buffer);
          poke();
        }
      }
    };
    // Batches written before a failure are still committed (each group commit cleans up after itself).
    const committer = async (): Promise<void> => {
      while (copiersLeft > 0 || ready.length > 0) {
        // Wait for a group of GROUP_PER_COPIER x depth batches, unless no more are coming soon (the
        // last batches are copying: what is written commits now, so the commit left after the last
        // copy is small) or user I/O waits for a written batch.
        const more =
          nextAt < blocks.length && failure === undefined && !this.gate.isClosed && uncommitted < limit();
        const urgent = (): boolean => pacer.busy() || ready.some((w) => w.batch.contended());
        if (ready.length === 0 || (more && ready.length < minGroup && !urgent())) {
          await new Promise<void>((resolve) => (wakeCommitter = resolve));
          continue;
        }
        const group = ready.splice(0);
        try {
          const outcome = await this.device.commitSpareBatches(group);
          this.moved += outcome.moved;
          this.lost += outcome.lost;
        } catch (error) {
          failure ??= { error };
        }
        uncommitted -= group.length;
        const waiting = wakeCopiers;
        wakeCopiers = [];
        for (const wake of waiting) wake();
      }
    };
    const copiers = Array.from({ length: this.depth }, () =>
      copier().finally(() => {
        copiersLeft--;
        poke();
      }),
    );
    await Promise.all([...copiers, committer()]);
    if (this.alignedBuffers) for (const buffer of buffers) batchBuffers.give(buffer);
    if (failure) throw failure.error;
  }

  /**
   * Record the spare as draining in the set record (one checkpoint), so allocation keeps avoiding it
   * after a crash or restart and the daemon resumes the drain; it stays recorded until removed.
   */
  private async recordDraining(): Promise<void> {
    const store = this.device.metadataStore;
    if (!(store instanceof SpareStore)) return;
    if (store.drainingSpares.includes(this.spare)) return;
    await store.commitDraining([...store.drainingSpares, this.spare]);
  }

  private fail(why: string): void {
    this.state = "failed";
    this.error = why;
  }

  /** Stop between two batches until resume(). */
  pause(): DrainProgress {
    if (this.state === "running" && this.gate.close()) this.state = "paused";
    return this.progress();
  }

  resume(): DrainProgress {
    if (this.gate.isClosed) {
      if (this.state === "paused") this.state = "running";
      this.gate.open();
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
