// grow: emulates a degrading disk whose bad blocks appear over time on the layer's injectable clock:
// an explicit schedule ("10m@5"), and/or `per-hour` new blocks clustered near existing ones (seeded).
// Bad blocks fail reads and writes as dust blocks do. Deterministic given the seed and the clock.
import { Prng } from "../prng.js";
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
import { blocks, integer, number, schedule, size, type ScheduledBlocks } from "./option-types.js";

const HOUR_MS = 3_600_000;

interface GrowOptions {
  readonly blockSize: number;
  readonly blocks: readonly number[];
  readonly events: readonly ScheduledBlocks[];
  readonly perHour: number;
  readonly radius: number;
  readonly limit: number;
  readonly seed: number;
}

/** The live, growing bad-block set of one grow rule. */
export class GrowAction implements FaultAction {
  private readonly bad = new Set<number>();
  /** Bad blocks in the order they went bad (clustering picks a parent from here). */
  private readonly order: number[] = [];
  private readonly events: ScheduledBlocks[];
  private readonly prng: Prng;
  private readonly totalBlocks: number;
  private readonly epochMs: number;
  private nextEvent = 0;
  /** Arrivals of the per-hour process so far (including draws that found no new block). */
  private arrivals = 0;
  private grown = 0;

  constructor(
    private readonly o: GrowOptions,
    private readonly ctx: FaultContext,
  ) {
    this.prng = new Prng(o.seed);
    this.totalBlocks = Math.ceil(ctx.sizeBytes / o.blockSize);
    this.events = [...o.events].sort((a, b) => a.atMs - b.atMs);
    this.epochMs = ctx.now();
    for (const b of o.blocks) this.mark(b);
  }

  private mark(block: number): boolean {
    if (this.bad.has(block)) return false;
    this.bad.add(block);
    this.order.push(block);
    return true;
  }

  /** Time (after the epoch) of arrival number `n` (1-based) of the per-hour process. */
  private arrivalMs(n: number): number {
    return Math.ceil((n * HOUR_MS) / this.o.perHour);
  }

  /** The first block from `from` in direction `step` that is not bad yet, if any inside the device. */
  private firstGood(from: number, step: 1 | -1): number | undefined {
    for (let b = from; b >= 0 && b < this.totalBlocks; b += step) if (!this.bad.has(b)) return b;
    return undefined;
  }

  /**
   * One arrival: a new bad block near a random existing one (anywhere when there is none). A draw
   * on a block that is bad already moves on to the next good block in the same direction, so every
   * arrival adds exactly one block while the device has good ones.
   */
  private grow(): void {
    this.arrivals++;
    if (this.bad.size >= this.totalBlocks) return;
    let candidate: number;
    let step: 1 | -1 = 1;
    if (this.order.length === 0) candidate = this.prng.nextInt(this.totalBlocks);
    else {
      const parent = this.order[this.prng.nextInt(this.order.length)]!;
      const offset = this.prng.nextInt(2 * this.o.radius + 1) - this.o.radius;
      candidate = Math.min(this.totalBlocks - 1, Math.max(0, parent + offset));
      if (offset < 0) step = -1;
    }
    const block = this.firstGood(candidate, step) ?? this.firstGood(candidate, step === 1 ? -1 : 1)!;
    this.mark(block);
    this.countGrown();
  }

  private countGrown(): void {
    this.grown++;
    this.ctx.count("grownBlocks");
  }

  /** Apply every event and arrival due by now, in time order (events first on a tie). */
  advance(): void {
    const elapsed = this.ctx.now() - this.epochMs;
    for (;;) {
      const event = this.events[this.nextEvent];
      const arrival =
        this.o.perHour > 0 && this.arrivals < this.o.limit ? this.arrivalMs(this.arrivals + 1) : Infinity;
      if (event && event.atMs <= elapsed && event.atMs <= arrival) {
        for (const b of event.blocks) if (this.mark(b)) this.countGrown();
        this.nextEvent++;
      } else if (arrival <= elapsed) this.grow();
      else return;
    }
  }

  /** Bad blocks now, ascending. */
  list(): number[] {
    this.advance();
    return [...this.bad].sort((a, b) => a - b);
  }

  badBlocks(): number[] {
    return this.list();
  }

  status(): Record<string, unknown> {
    this.advance();
    return { badBlocks: this.bad.size, grown: this.grown };
  }

  async apply(req: FaultRequest, next: () => Promise<void>): Promise<void> {
    if (req.type === "flush") return next();
    this.advance();
    if (this.bad.size === 0) return next();
    const [first, last] = touchedBlocks(req, this.o.blockSize);
    for (let b = first; b <= last; b++) {
      if (!this.bad.has(b)) continue;
      const [offset, length] = blockPart(req, b, this.o.blockSize);
      this.ctx.count(req.type === "read" ? "growReadErrors" : "growWriteErrors");
      throw injectedError(this.ctx, req, offset, length, `grown bad block ${b}`);
    }
    return next();
  }
}

/** The grow kind. */
export const grow = defineFaultKind({
  name: "grow",
  summary:
    "a degrading disk: bad blocks appear over time (a schedule, or `per-hour` clustered near existing ones)",
  options: {
    blockSize: { type: size, default: 4096, help: "bad-block unit (power of two >= 512)" },
    blocks: { type: blocks, default: [], help: "blocks bad from the start" },
    events: {
      type: schedule,
      default: [],
      help: "blocks that go bad TIME after the rule starts",
    },
    perHour: {
      type: number,
      default: 0,
      max: 1_000_000,
      help: "new bad blocks per hour, each near an existing one",
    },
    radius: {
      type: integer,
      default: 8,
      min: 1,
      max: 1 << 20,
      help: "a new block lies at most this many blocks from its neighbour",
    },
    limit: {
      type: integer,
      default: 10_000,
      max: 1 << 20,
      help: "most blocks `per-hour` adds; then the disk stops degrading",
    },
    seed: {
      type: integer,
      default: 1,
      max: 2 ** 32 - 1,
      help: "PRNG seed: same seed and clock, same bad blocks",
    },
  },
  counters: [
    { name: "growReadErrors", help: "reads failed on a grown bad block" },
    { name: "growWriteErrors", help: "writes failed on a grown bad block" },
    { name: "grownBlocks", help: "blocks that went bad after the start", notInjected: true },
  ],
  check(o, sizeBytes, fail) {
    if (!isBlockSize(o.blockSize))
      throw fail("blockSize", `grow block size ${o.blockSize} is not a power of two >= 512`);
    const inside = (b: number) => b * o.blockSize < sizeBytes;
    for (const b of o.blocks)
      if (!inside(b)) throw fail("blocks", blockOutside("grow", b, o.blockSize, sizeBytes));
    for (const e of o.events) {
      for (const b of e.blocks)
        if (!inside(b)) throw fail("events", blockOutside("grow", b, o.blockSize, sizeBytes));
    }
  },
  create: (o, ctx) => new GrowAction(o, ctx),
});
