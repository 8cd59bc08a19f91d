// slow: emulates weak sectors. Requests touching the listed blocks wait `delay` first (a drive
// retrying internally), and the first `attempts - 1` reads of a block fail with a medium error, the
// next one succeeds, then the count starts again. With `writes`, writes to them behave the same.
import {
  blockPart,
  blockOutside,
  defineFaultKind,
  isBlockSize,
  injectedError,
  touchedBlocks,
  type FaultAction,
  type FaultContext,
  type FaultRequest,
} from "./fault-kind.js";
import { blocks, duration, flag, integer, size } from "./option-types.js";

interface SlowOptions {
  readonly blockSize: number;
  readonly blocks: readonly number[];
  readonly delay: number;
  readonly attempts: number;
  readonly writes: boolean;
}

/** The live state of one slow rule: failed attempts per weak block. */
export class SlowAction implements FaultAction {
  private readonly slow: Set<number>;
  /** Failed attempts so far of blocks in their current cycle. */
  private readonly failed = new Map<number, number>();

  constructor(
    private readonly o: SlowOptions,
    private readonly ctx: FaultContext,
  ) {
    this.slow = new Set(o.blocks);
  }

  status(): Record<string, unknown> {
    return { slowBlocks: this.slow.size, failingBlocks: this.failed.size };
  }

  private touched(req: FaultRequest): number[] {
    const [first, last] = touchedBlocks(req, this.o.blockSize);
    const hits: number[] = [];
    if (last - first + 1 <= this.slow.size) {
      for (let b = first; b <= last; b++) if (this.slow.has(b)) hits.push(b);
      return hits;
    }
    for (const b of this.slow) if (b >= first && b <= last) hits.push(b);
    return hits.sort((a, b) => a - b);
  }

  async apply(req: FaultRequest, next: () => Promise<void>): Promise<void> {
    const isRead = req.type === "read";
    if (req.type === "flush" || (!isRead && !this.o.writes)) return next();
    const hits = this.touched(req);
    if (hits.length === 0) return next();
    this.ctx.count(isRead ? "slowReads" : "slowWrites");
    if (this.o.delay > 0) await this.ctx.sleep(this.o.delay);
    let failing: number | undefined;
    for (const b of hits) {
      const failed = this.failed.get(b) ?? 0;
      if (failed + 1 < this.o.attempts) {
        this.failed.set(b, failed + 1);
        failing ??= b;
      } else this.failed.delete(b);
    }
    if (failing === undefined) return next();
    const [offset, length] = blockPart(req, failing, this.o.blockSize);
    this.ctx.count(isRead ? "slowReadErrors" : "slowWriteErrors");
    throw injectedError(this.ctx, req, offset, length, `weak block ${failing}`);
  }
}

/** The slow kind. */
export const slow = defineFaultKind({
  name: "slow",
  summary:
    "weak sectors: requests touching the listed blocks wait `delay`, and succeed only on attempt number `attempts`",
  options: {
    blockSize: { type: size, default: 4096, help: "block unit (power of two >= 512)" },
    blocks: { type: blocks, required: true, help: "weak blocks, in `block-size` units" },
    delay: {
      type: duration,
      default: 0,
      max: 86_400_000,
      help: "wait before each request touching a weak block",
    },
    attempts: {
      type: integer,
      default: 1,
      min: 1,
      max: 1000,
      help: "a block reads fine on this attempt; the ones before fail",
    },
    writes: {
      type: flag,
      default: false,
      help: "writes / trims / zeroing are slowed and failed the same way",
    },
  },
  counters: [
    { name: "slowReads", help: "reads that touched a weak block" },
    { name: "slowWrites", help: "writes that touched a weak block (with `writes`)" },
    { name: "slowReadErrors", help: "reads failed on a weak block" },
    { name: "slowWriteErrors", help: "writes failed on a weak block" },
  ],
  check(o, sizeBytes, fail) {
    if (!isBlockSize(o.blockSize))
      throw fail("blockSize", `slow block size ${o.blockSize} is not a power of two >= 512`);
    if (o.blocks.length === 0) throw fail("blocks", "slow needs at least one block");
    for (const b of o.blocks) {
      if (b * o.blockSize >= sizeBytes) throw fail("blocks", blockOutside("slow", b, o.blockSize, sizeBytes));
    }
  },
  create: (o, ctx) => new SlowAction(o, ctx),
});
