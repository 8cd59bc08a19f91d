// Replace the main device of a served set (like `mdadm --replace`): copy every healthy block of the
// old main to the new device in large sequential pieces under the tee's range lock (user writes go to
// both meanwhile), skip remapped and pending blocks, retry what failed block by block at the end
// (ddrescue's trim/scrape), then flush the new device, commit its identity (the switch), swap it in,
// and copy each remapped block back from its spare slot onto it (unremap, freeing the slot).
// A resumable job: the cursor is saved (after a flush of the new device) every `saveEveryBytes`, when
// a pause has let the requests in flight finish, and before a user write that rewrote a block known
// bad on the old main completes (the saved list of such blocks keeps them off the pending list after
// a crash). The new device's writeback is started every 32 MiB beside the copy.
import { allocateAligned, batchBuffers } from "../block/aligned-buffers.js";
import type { BlockDevice } from "../block/block-device.js";
import { MediumError } from "../block/errors.js";
import { FileDevice } from "../block/file-device.js";
import { findLayer } from "../block/open-device.js";
import type { ReplaceTee } from "../block/replace-tee.js";
import { nextTurn, TurnKeeper } from "../core/loop-turns.js";
import type { RemappedDevice } from "../remap/remapped-device.js";
import { SpareOperationError } from "./errors.js";
import { PauseGate } from "./pause-gate.js";
import { UserIoPacer, userIoStepBlocks } from "./user-io-pacer.js";

/** Phases of a replacement, in order. */
export const REPLACE_PHASES = ["copying", "retrying", "switching", "unremapping", "done"] as const;
/** Where the job is. */
export type ReplacePhase = (typeof REPLACE_PHASES)[number];

/** The largest copy request (ReplaceMainOptions.chunkBytes). */
export const MAX_CHUNK_BYTES = 64 << 20;
/** Bytes copied between two writebacks of the new device started beside the copy. */
const WRITEBACK_EVERY_BYTES = 32 << 20;
/** The default copy request. */
export const DEFAULT_CHUNK_BYTES = 1 << 20;
/** Copy requests in flight by default (one reads while the other writes). */
export const DEFAULT_CONCURRENCY = 2;
/**
 * Copy requests in flight by default when the old or the new main is opened O_DIRECT: every request
 * is a device round trip there, and 4 copied about 1.2x faster than 2 on tmpfs and as fast on ext4
 * (docs/PERFORMANCE.md); through the page cache more in flight did not help.
 */
export const DIRECT_CONCURRENCY = 4;

/** What is saved to resume a replacement (the side record, docs/OPERATIONS.md). */
export interface ReplaceCheckpoint {
  readonly phase: ReplacePhase;
  /** Blocks below it were copied (or skipped and listed below). */
  readonly cursorBlock: number;
  /** Blocks whose bulk read failed, to retry at the end. */
  readonly retryBlocks: readonly number[];
  /** Pending blocks skipped by the bulk pass. */
  readonly skippedPending: readonly number[];
  /**
   * Blocks known bad on the old main (pending, or in a failed read) that a user rewrote whole while
   * the copy ran: the new device holds the user's data, so they are never left pending nor copied.
   */
  readonly rewrittenBlocks?: readonly number[];
}

/** Where a replacement stands (progress as data). */
export interface ReplaceProgress {
  readonly state: "running" | "paused" | "done" | "failed";
  readonly phase: ReplacePhase;
  readonly totalBytes: number;
  /** Bytes of main dealt with (copied, or skipped because remapped or pending). */
  readonly doneBytes: number;
  readonly copiedBytes: number;
  readonly rateBytesPerSecond: number;
  readonly etaSeconds?: number;
  readonly remappedSkipped: number;
  readonly retryBlocks: number;
  /** Copy requests in flight (0 once a paused copy stands still). */
  readonly requestsInFlight: number;
  /** Blocks left pending on the new main: unreadable on the old one and not rewritten. */
  readonly unreadableBlocks: readonly number[];
  /** Remapped blocks moved back onto the new main after the switch. */
  readonly unremapped: number;
  /** Remapped blocks that stay on spares (lost sectors, or the write back failed). */
  readonly stillRemapped: number;
  readonly error?: string;
}

/** The copy's state by block: below the cursor copied except the lists; from it on not tried. */
export interface ReplaceMapState {
  readonly phase: ReplacePhase;
  readonly cursorBlock: number;
  readonly retryBlocks: readonly number[];
  readonly unreadableBlocks: readonly number[];
  readonly skippedPending: readonly number[];
}

/** Options of a replacement. */
export interface ReplaceMainOptions {
  /** The one metadata commit of the switch: record the new main's identity. */
  readonly commitSwitch: () => Promise<void>;
  /** Persist the resume point (called after the new device was flushed). */
  readonly save?: (checkpoint: ReplaceCheckpoint) => Promise<void>;
  /** Continue from here (a saved checkpoint). */
  readonly resumeFrom?: ReplaceCheckpoint;
  /**
   * Bytes per sequential copy request (default 1 MiB: buffered copies of 4 MiB measured slower and
   * far less steady, their buffers no longer fit the CPU caches; docs/PERFORMANCE.md).
   */
  readonly chunkBytes?: number;
  /** Copy requests in flight (default DEFAULT_CONCURRENCY, DIRECT_CONCURRENCY with an O_DIRECT main). */
  readonly concurrency?: number;
  /** Save the cursor after this many bytes (default 256 MiB). */
  readonly saveEveryBytes?: number;
  /** Block-by-block read attempts of the retry pass (default 3). */
  readonly readAttempts?: number;
  readonly now?: () => number;
}

/** One replacement of the main of `device`, whose main is behind `tee` (already armed). */
export class ReplaceMainJob {
  private phase: ReplacePhase = "copying";
  private state: ReplaceProgress["state"] = "running";
  private error: string | undefined;
  private cursor = 0;
  private doneBytes = 0;
  private copiedBytes = 0;
  private remappedSkipped = 0;
  private unremapped = 0;
  private stillRemapped = 0;
  private readonly retry = new Set<number>();
  private readonly skippedPending = new Set<number>();
  private readonly unreadable: number[] = [];
  /** Known-bad blocks a user rewrote whole while armed (persisted with each save). */
  private readonly rewritten = new Set<number>();
  /** First blocks of the bulk copy requests in flight. */
  private readonly inflight = new Set<number>();
  private readonly gate = new PauseGate();
  private saving: Promise<void> = Promise.resolve();
  /** The cursor of the last resume point handed to save(). */
  private savedCursor = 0;
  private startedMs = 0;
  private startedBytes = 0;
  private readonly chunkBlocks: number;
  /** Blocks per copy request while user I/O runs (see UserIoPacer). */
  private readonly busyChunkBlocks: number;
  private readonly pacer: UserIoPacer;
  private readonly concurrency: number;
  private readonly saveEveryBytes: number;
  private readonly readAttempts: number;
  private readonly now: () => number;
  /** Event-loop turns between steps: devices in memory answer every step at once. */
  private readonly turns: TurnKeeper;

  constructor(
    private readonly device: RemappedDevice,
    private readonly tee: ReplaceTee,
    private readonly options: ReplaceMainOptions,
  ) {
    const bs = device.blockSize;
    const chunk = options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
    if (!Number.isInteger(chunk) || chunk < bs || chunk % bs !== 0 || chunk > MAX_CHUNK_BYTES)
      throw new SpareOperationError(
        device.name,
        `replace chunk ${chunk} is not a multiple of the block size ${bs} up to 64 MiB`,
      );
    this.chunkBlocks = chunk / bs;
    this.busyChunkBlocks = userIoStepBlocks(this.chunkBlocks, bs);
    this.concurrency =
      options.concurrency ?? (this.hasDirectMain() ? DIRECT_CONCURRENCY : DEFAULT_CONCURRENCY);
    if (!Number.isInteger(this.concurrency) || this.concurrency < 1 || this.concurrency > 64)
      throw new SpareOperationError(device.name, `replace concurrency ${this.concurrency} is not in 1..64`);
    this.saveEveryBytes = options.saveEveryBytes ?? 256 << 20;
    this.readAttempts = options.readAttempts ?? 3;
    this.now = options.now ?? (() => performance.now());
    this.pacer = new UserIoPacer(device, this.now);
    this.turns = new TurnKeeper(this.now);
    const from = options.resumeFrom;
    const switched = from && REPLACE_PHASES.indexOf(from.phase) > REPLACE_PHASES.indexOf("switching");
    if (!tee.replacement && !switched)
      throw new SpareOperationError(device.name, "no replacement device is armed");
    if (from) {
      this.phase = from.phase;
      this.cursor = Math.min(from.cursorBlock, device.blockCount);
      for (const b of from.retryBlocks) this.retry.add(b);
      for (const b of from.skippedPending) this.skippedPending.add(b);
      for (const b of from.rewrittenBlocks ?? []) {
        this.rewritten.add(b);
        tee.markWhollyWritten(b);
      }
      this.doneBytes = Math.min(this.cursor * bs, device.sizeBytes);
      this.savedCursor = this.cursor;
    }
  }

  /**
   * A user write that rewrites a block known bad on the old main completes only once the resume
   * point lists it, so a crash cannot forget that the new device holds the user's data there.
   */
  private watchRewrites(): void {
    const dev = this.device;
    this.tee.watchRewrites({
      watched: (b) =>
        !this.rewritten.has(b) &&
        (this.retry.has(b) ||
          this.skippedPending.has(b) ||
          (dev.isRemappedOrPending(b) && dev.spareIndexOf(b) < 0)),
      persist: async (blocks) => {
        for (const b of blocks) this.rewritten.add(b);
        // Swapped meanwhile: the new device serves, there is nothing left to resume.
        if (!this.tee.replacement) return;
        await this.save(this.phase === "copying" ? this.savedCursor : this.cursor);
      },
    });
  }

  /** Run to the end; resolves with the final progress (throws, with state failed, on an error). */
  async start(): Promise<ReplaceProgress> {
    if (this.tee.replacement) this.watchRewrites();
    this.startedMs = this.now();
    this.startedBytes = this.doneBytes;
    try {
      if (this.phase === "copying") {
        await this.bulkCopy();
        this.phase = "retrying";
        await this.save();
      }
      if (this.phase === "retrying") {
        await this.retryPass();
        await this.markUnreadable();
        this.phase = "switching";
        await this.save();
      }
      if (this.phase === "switching") await this.switchOver();
      if (this.phase === "unremapping") await this.unremapAll();
      this.phase = "done";
      this.state = "done";
    } catch (err) {
      this.state = "failed";
      this.error = err instanceof Error ? err.message : String(err);
      throw err;
    }
    return this.progress();
  }

  /**
   * Sequential pass: extents of healthy blocks, cut at remapped and pending blocks. While user I/O
   * runs on the set (UserIoPacer) the copy goes in small steps, one in flight, so a user request
   * competes with a small copy; an idle copy keeps its full requests and depth.
   */
  private async bulkCopy(): Promise<void> {
    const dev = this.device;
    const count = dev.blockCount;
    // Extents are handed out in order; the saved cursor is the start of the oldest unfinished one.
    const inflight = this.inflight;
    let sinceSave = 0;
    let sinceFlush = 0;
    let flushing: Promise<unknown> | undefined;
    let flushFailure: { err: unknown } | undefined;
    /** The copy request started last (settled, never rejects): a yielding worker waits for it. */
    let lastStarted: Promise<unknown> = Promise.resolve();
    const buffers = this.copyBuffers();
    /** Copy steps since the last turn the workers waited for, and that turn (one for all of them). */
    let stepsSinceTurn = 0;
    let turn: Promise<void> | undefined;
    const takeTurn = (): Promise<void> =>
      (turn ??= nextTurn().then(() => {
        turn = undefined;
        stepsSinceTurn = 0;
      }));
    const copyLoop = async (buf: Uint8Array) => {
      while (this.cursor < count) {
        // Paused: the last request in flight saves the exact resume point (a restart loses nothing).
        if (this.gate.isClosed && inflight.size === 0 && sinceSave > 0) {
          sinceSave = 0;
          await this.save(this.cursor);
        }
        await this.gate.wait();
        await this.turns.due();
        this.failIfReplacementBroken();
        if (flushFailure) throw flushFailure.err;
        // Another worker may have taken the last extent while this one waited.
        if (this.cursor >= count) break;
        const busy = this.pacer.busy();
        if (busy && inflight.size > 0) {
          await lastStarted;
          continue;
        }
        // While user I/O runs, one step between two event-loop turns: a copy from a file in memory
        // completes at once (one read and one write on the event loop), and user requests must get
        // in between steps.
        if (busy && stepsSinceTurn > 0) {
          await takeTurn();
          continue; // everything above is looked at again after the turn
        }
        stepsSinceTurn++;
        const first = this.cursor;
        const limit = Math.min(first + (busy ? this.busyChunkBlocks : this.chunkBlocks), count);
        const special = dev.firstRemappedOrPending(first, limit);
        if (special === first) {
          this.cursor = first + 1;
          if (dev.isRemappedOrPending(first) && dev.spareIndexOf(first) < 0) this.skippedPending.add(first);
          else this.remappedSkipped++;
          this.doneBytes += this.bytesOf(first, first + 1);
          continue;
        }
        const end = special < 0 ? limit : special;
        this.cursor = end;
        inflight.add(first);
        const copied = this.copyExtent(first, end, buf);
        lastStarted = copied.catch(() => undefined);
        try {
          await copied;
        } finally {
          inflight.delete(first);
        }
        sinceSave += this.bytesOf(first, end);
        sinceFlush += this.bytesOf(first, end);
        if (sinceSave >= this.saveEveryBytes) {
          sinceSave = 0;
          sinceFlush = 0;
          await this.save(inflight.size > 0 ? Math.min(...inflight) : this.cursor);
        } else if (sinceFlush >= WRITEBACK_EVERY_BYTES && !flushing) {
          // Start the new device's writeback now, beside the copy, so the flush before the next save
          // (or the switch) finds little left to write (a buffered copy otherwise ends with one long
          // flush of everything, as dd conv=fsync does).
          sinceFlush = 0;
          flushing = this.tee.flushReplacement().then(
            () => (flushing = undefined),
            (err: unknown) => (flushFailure ??= { err }),
          );
        }
      }
    };
    const worker = async () => {
      const buf = buffers.take();
      try {
        await copyLoop(buf);
      } finally {
        buffers.give(buf);
      }
    };
    await Promise.all(Array.from({ length: this.concurrency }, worker));
    await flushing;
    if (flushFailure) throw flushFailure.err;
  }

  /**
   * The copy buffers of the bulk pass, one per request in flight: memory-aligned when the old or the
   * new main is a file opened O_DIRECT, so both read and write them in place (no bounce copies), and
   * kept for the next job as a drain keeps its batch buffers; plain arrays through the page cache.
   */
  private copyBuffers(): { take: () => Uint8Array; give: (buf: Uint8Array) => void } {
    const bytes = this.chunkBlocks * this.device.blockSize;
    if (!this.hasDirectMain()) return { take: () => new Uint8Array(bytes), give: () => {} };
    return { take: () => batchBuffers.take(bytes), give: (buf) => batchBuffers.give(buf) };
  }

  /** Whether the old or the new main is a file opened O_DIRECT. */
  private hasDirectMain(): boolean {
    const direct = (d: BlockDevice | undefined) =>
      d !== undefined && findLayer(d, FileDevice)?.direct === true;
    return direct(this.tee.lower) || direct(this.tee.replacement);
  }

  private async copyExtent(first: number, end: number, buf: Uint8Array): Promise<void> {
    const bs = this.device.blockSize;
    const bytes = this.bytesOf(first, end);
    try {
      await this.tee.copyRange(first * bs, buf.subarray(0, bytes));
      this.copiedBytes += bytes;
    } catch (err) {
      if (!(err instanceof MediumError)) throw err;
      // ddrescue's first pass: skip the whole failed area now, go block by block at the end. Blocks
      // of it a user already rewrote (before they were known bad) are saved as such at once.
      let rewritten = false;
      for (let b = first; b < end; b++) {
        this.retry.add(b);
        if (this.tee.wasWhollyWritten(b) && !this.rewritten.has(b)) {
          this.rewritten.add(b);
          rewritten = true;
        }
      }
      if (rewritten) await this.save(this.savedCursor);
    }
    this.doneBytes += bytes;
  }

  /** Retry pass: failed blocks one at a time, then pending blocks that stopped being pending. */
  private async retryPass(): Promise<void> {
    const dev = this.device;
    const again = [...this.retry].sort((a, b) => a - b);
    for (const b of [...this.skippedPending].sort((x, y) => x - y))
      if (!dev.isRemappedOrPending(b)) again.push(b);
    const buf = this.hasDirectMain() ? allocateAligned(dev.blockSize) : new Uint8Array(dev.blockSize);
    for (const block of again) {
      await this.gate.wait();
      await this.turns.due();
      this.failIfReplacementBroken();
      // A block remapped meanwhile is on a spare: the unremap after the switch copies it. One a user
      // rewrote whole holds the user's data on the new device already.
      if (dev.isRemappedOrPending(block) || this.tee.wasWhollyWritten(block)) {
        this.retry.delete(block);
        continue;
      }
      let copied = false;
      for (let a = 0; a < this.readAttempts && !copied; a++) {
        try {
          const bytes = this.bytesOf(block, block + 1);
          await this.tee.copyRange(block * dev.blockSize, buf.subarray(0, bytes));
          this.copiedBytes += bytes;
          copied = true;
        } catch (err) {
          if (!(err instanceof MediumError)) throw err;
        }
      }
      if (!copied) this.unreadable.push(block);
      this.retry.delete(block);
    }
  }

  /**
   * Blocks no attempt could read: pending from now on (old main cannot read them either), unless a
   * user wrote them whole while the tee was armed (then the new device holds the user's data). The
   * second look after markPending catches a write that finished before the mark took the block's lock.
   */
  private async markUnreadable(): Promise<void> {
    const dev = this.device;
    for (const block of this.unreadable) {
      if (this.tee.wasWhollyWritten(block) || dev.isRemappedOrPending(block)) continue;
      await this.turns.due();
      try {
        await dev.markPending(block);
      } catch (err) {
        // Remapped meanwhile (its data is on a spare): nothing to mark.
        if (dev.spareIndexOf(block) < 0) throw err;
        continue;
      }
      if (this.tee.wasWhollyWritten(block)) await dev.clearPending(block);
    }
    // Every pending block is listed: unreadable on the old main, not copied, pending on the new one.
    this.unreadable.splice(0, this.unreadable.length, ...this.pendingBlocks());
  }

  private pendingBlocks(): number[] {
    const out: number[] = [];
    let cursor: number | null = 0;
    while (cursor !== null) {
      const page = this.device.list({ cursor, limit: 1000 });
      out.push(...page.pending);
      cursor = page.nextCursor;
    }
    return out;
  }

  /** Flush the new device, commit its identity, serve from it. */
  private async switchOver(): Promise<void> {
    this.failIfReplacementBroken();
    await this.tee.flushReplacement();
    this.failIfReplacementBroken();
    await this.options.commitSwitch();
    const old = await this.tee.swap(() => this.device.mainReplaced());
    await old.close();
    this.phase = "unremapping";
    await this.options.save?.(this.checkpoint(this.device.blockCount));
  }

  /** Copy every remapped block back onto the new main (it is healthy there) and free its slot. */
  private async unremapAll(): Promise<void> {
    const dev = this.device;
    let cursor: number | null = 0;
    while (cursor !== null) {
      const page = dev.list({ cursor, limit: 1000 });
      const blocks = page.entries.map((e) => e.block);
      // Several at a time: their flushes and metadata commits overlap (group commit).
      let next = 0;
      const worker = async () => {
        while (next < blocks.length) {
          const block = blocks[next++]!;
          await this.gate.wait();
          await this.turns.due();
          try {
            await dev.unremapBlock(block);
            this.unremapped++;
          } catch {
            // Lost sectors, or the write back failed: the block stays safe on its spare.
            this.stillRemapped++;
          }
        }
      };
      await Promise.all(Array.from({ length: 16 }, worker));
      cursor = page.nextCursor;
    }
    this.unreadable.splice(0, this.unreadable.length, ...this.pendingBlocks());
  }

  private failIfReplacementBroken(): void {
    const err = this.tee.replacementError;
    if (err !== undefined)
      throw new SpareOperationError(
        this.device.name,
        `replacement device failed: ${err instanceof Error ? err.message : String(err)}`,
      );
  }

  private bytesOf(first: number, end: number): number {
    const bs = this.device.blockSize;
    return Math.min(end * bs, this.device.sizeBytes) - first * bs;
  }

  private checkpoint(cursorBlock: number): ReplaceCheckpoint {
    return {
      phase: this.phase,
      cursorBlock,
      retryBlocks: [...this.retry].sort((a, b) => a - b),
      skippedPending: [...this.skippedPending].sort((a, b) => a - b),
      rewrittenBlocks: [...this.rewritten].sort((a, b) => a - b),
    };
  }

  /** Flush what was copied, then persist the resume point (saves run one at a time, in order). */
  private save(cursorBlock = this.cursor): Promise<void> {
    const save = this.options.save;
    if (!save) return Promise.resolve();
    this.savedCursor = Math.max(this.savedCursor, cursorBlock);
    const next = this.saving.then(async () => {
      await this.tee.flushReplacement();
      await save(this.checkpoint(cursorBlock));
    });
    this.saving = next.catch(() => undefined);
    return next;
  }

  /** The copy's state by block (what a ddrescue mapfile of it shows). */
  mapState(): ReplaceMapState {
    return {
      phase: this.phase,
      cursorBlock: this.phase === "copying" ? this.cursor : this.device.blockCount,
      retryBlocks: [...this.retry].sort((a, b) => a - b),
      unreadableBlocks: [...this.unreadable],
      skippedPending: [...this.skippedPending].sort((a, b) => a - b),
    };
  }

  /** Stop between two copy requests until resume(). */
  pause(): ReplaceProgress {
    if (this.state === "running" && this.gate.close()) this.state = "paused";
    return this.progress();
  }

  resume(): ReplaceProgress {
    if (this.gate.isClosed) {
      if (this.state === "paused") this.state = "running";
      this.gate.open();
    }
    return this.progress();
  }

  progress(): ReplaceProgress {
    const seconds = (this.now() - this.startedMs) / 1000;
    const rate = seconds > 0 ? (this.doneBytes - this.startedBytes) / seconds : 0;
    const left = this.device.sizeBytes - this.doneBytes;
    return {
      state: this.state,
      phase: this.phase,
      totalBytes: this.device.sizeBytes,
      doneBytes: this.doneBytes,
      copiedBytes: this.copiedBytes,
      rateBytesPerSecond: rate,
      ...(rate > 0 && this.phase === "copying" && this.state !== "done" ? { etaSeconds: left / rate } : {}),
      remappedSkipped: this.remappedSkipped,
      retryBlocks: this.retry.size,
      requestsInFlight: this.inflight.size,
      unreadableBlocks: [...this.unreadable],
      unremapped: this.unremapped,
      stillRemapped: this.stillRemapped,
      ...(this.error ? { error: this.error } : {}),
    };
  }
}
