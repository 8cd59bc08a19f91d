// dust: emulates a disk with a fixed set of unreadable blocks (dm-dust). Reads touching a bad block
// fail; writes fail too, or with `heal` succeed and clear the block (firmware reallocation).
import { FaultRuleError } from "./errors.js";
import {
  blockOutside,
  blockPart,
  defineFaultKind,
  injectedError,
  isBlockSize,
  touchedBlocks,
  type FaultAction,
  type FaultContext,
  type FaultRequest,
} from "./fault-kind.js";
import { blocks, flag, size } from "./option-types.js";

/** The live bad-block set of one dust rule. */
export class DustAction implements FaultAction {
  private readonly bad: Set<number>;

  constructor(
    readonly blockSize: number,
    initial: readonly number[],
    readonly heal: boolean,
    private readonly ctx: FaultContext,
  ) {
    this.bad = new Set(initial);
  }

  options(): Record<string, unknown> {
    return { blockSize: this.blockSize, blocks: this.list(), heal: this.heal };
  }

  status(): Record<string, unknown> {
    return { badBlocks: this.bad.size };
  }

  /** Mark a block bad (validated against the device size). */
  add(block: number): void {
    if (!Number.isSafeInteger(block) || block < 0 || block * this.blockSize >= this.ctx.sizeBytes) {
      throw new FaultRuleError(
        "dust",
        "block",
        blockOutside("dust", block, this.blockSize, this.ctx.sizeBytes),
      );
    }
    this.bad.add(block);
  }

  /** Clear a bad block; false if it was not listed. */
  remove(block: number): boolean {
    return this.bad.delete(block);
  }

  /** Bad blocks, ascending. */
  list(): number[] {
    return [...this.bad].sort((a, b) => a - b);
  }

  badBlocks(): number[] {
    return this.list();
  }

  /** Bad blocks touched by a request, ascending. */
  private touched(req: FaultRequest): number[] {
    const [first, last] = touchedBlocks(req, this.blockSize);
    if (last - first + 1 <= this.bad.size) {
      const hits: number[] = [];
      for (let b = first; b <= last; b++) if (this.bad.has(b)) hits.push(b);
      return hits;
    }
    return this.list().filter((b) => b >= first && b <= last);
  }

  async apply(req: FaultRequest, next: () => Promise<void>): Promise<void> {
    if (req.type === "flush" || this.bad.size === 0) return next();
    const hits = this.touched(req);
    if (hits.length === 0) return next();
    if (req.type !== "read" && this.heal) {
      await next();
      for (const b of hits) if (this.bad.delete(b)) this.ctx.count("dustHeals");
      return;
    }
    const block = hits[0]!;
    const [offset, length] = blockPart(req, block, this.blockSize);
    this.ctx.count(req.type === "read" ? "dustReadErrors" : "dustWriteErrors");
    throw injectedError(this.ctx, req, offset, length, `dust bad block ${block}`);
  }
}

/** The dust kind. */
export const dust = defineFaultKind({
  name: "dust",
  summary: "dm-dust: reads of listed bad blocks fail; writes fail, or heal the block with `heal`",
  options: {
    blockSize: { type: size, default: 4096, help: "bad-block unit (power of two >= 512)" },
    blocks: { type: blocks, default: [], help: "bad blocks, in `block-size` units" },
    heal: { type: flag, default: false, help: "a write to a bad block succeeds and clears it" },
  },
  counters: [
    { name: "dustReadErrors", help: "reads failed on a bad block" },
    { name: "dustWriteErrors", help: "writes failed on a bad block" },
    { name: "dustHeals", help: "bad blocks healed by a write", notInjected: true },
  ],
  check(o, sizeBytes, fail) {
    if (!isBlockSize(o.blockSize)) {
      throw fail("blockSize", `dust block size ${o.blockSize} is not a power of two >= 512`);
    }
    for (const block of o.blocks) {
      if (block * o.blockSize >= sizeBytes)
        throw fail("blocks", blockOutside("dust", block, o.blockSize, sizeBytes));
    }
  },
  create: (o, ctx) => new DustAction(o.blockSize, o.blocks, o.heal, ctx),
});
