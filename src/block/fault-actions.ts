// Live fault rules: each wraps one request like middleware (fail it, delay it, drop it, corrupt it).
// Built from a validated rule config; state (bad-block set, flakey epoch, PRNG) lives here.
import { MediumError } from "./errors.js";
import {
  checkDustBlock,
  type FaultKind,
  type NormalizedFaultRule,
  type NormalizedRule,
  type DustRuleConfig,
} from "./fault-rules.js";
import { Prng } from "./prng.js";

/** The per-kind counters of injected faults, as shown in FaultDevice.status().faults. */
export interface FaultCounters {
  dustReadErrors: number;
  dustWriteErrors: number;
  dustHeals: number;
  flakeyReadErrors: number;
  flakeyWriteErrors: number;
  flakeyFlushErrors: number;
  flakeyDroppedWrites: number;
  flakeyCorruptedReads: number;
  randomReadErrors: number;
  randomWriteErrors: number;
  randomFlushErrors: number;
  delayedReads: number;
  delayedWrites: number;
}

/** A fresh set of zero counters. */
export function emptyFaultCounters(): FaultCounters {
  return {
    dustReadErrors: 0,
    dustWriteErrors: 0,
    dustHeals: 0,
    flakeyReadErrors: 0,
    flakeyWriteErrors: 0,
    flakeyFlushErrors: 0,
    flakeyDroppedWrites: 0,
    flakeyCorruptedReads: 0,
    randomReadErrors: 0,
    randomWriteErrors: 0,
    randomFlushErrors: 0,
    delayedReads: 0,
    delayedWrites: 0,
  };
}

/** What a rule needs from the device it sits in. */
export interface FaultContext {
  /** Device name for error messages. */
  readonly device: string;
  readonly sizeBytes: number;
  now(): number;
  sleep(ms: number): Promise<void>;
  count(counter: keyof FaultCounters): void;
}

/** One request passing through the rules; `buffer` is the read target or the write data. */
export interface FaultRequest {
  readonly type: "read" | "write" | "flush" | "trim" | "zero";
  readonly offsetBytes: number;
  readonly lengthBytes: number;
  readonly buffer?: Uint8Array;
}

/** A live rule: `apply` either handles the request itself or calls `next` (the rest of the chain). */
export interface FaultAction {
  readonly kind: FaultKind;
  /** The current config (reflects runtime changes such as healed or added bad blocks). */
  config(): NormalizedFaultRule;
  apply(request: FaultRequest, next: () => Promise<void>): Promise<void>;
}

function mediumError(ctx: FaultContext, req: FaultRequest, offset: number, length: number, why: string) {
  const op = req.type;
  const range = op === "flush" ? "" : ` of bytes ${offset}..${offset + length - 1}`;
  return new MediumError(
    ctx.device,
    op,
    offset,
    length,
    `${ctx.device}: medium error on ${op}${range} (${why})`,
  );
}

/** dm-dust: a set of bad blocks. */
export class DustAction implements FaultAction {
  readonly kind = "dust";
  readonly blockSize: number;
  readonly heal: boolean;
  private readonly bad: Set<number>;

  constructor(
    rule: NormalizedRule<DustRuleConfig>,
    private readonly ctx: FaultContext,
  ) {
    this.blockSize = rule.blockSize;
    this.heal = rule.heal;
    this.bad = new Set(rule.blocks);
  }

  config(): NormalizedFaultRule {
    return { kind: "dust", blockSize: this.blockSize, blocks: this.list(), heal: this.heal };
  }

  /** Mark a block bad (validated against the device size). */
  add(block: number): void {
    checkDustBlock(block, this.blockSize, this.ctx.sizeBytes);
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

  /** Bad blocks touched by [offset, offset + length), ascending. */
  private touched(offsetBytes: number, lengthBytes: number): number[] {
    const first = Math.floor(offsetBytes / this.blockSize);
    const last = Math.floor((offsetBytes + lengthBytes - 1) / this.blockSize);
    if (last - first + 1 <= this.bad.size) {
      const hits: number[] = [];
      for (let b = first; b <= last; b++) if (this.bad.has(b)) hits.push(b);
      return hits;
    }
    return this.list().filter((b) => b >= first && b <= last);
  }

  async apply(req: FaultRequest, next: () => Promise<void>): Promise<void> {
    if (req.type === "flush" || this.bad.size === 0) return next();
    const hits = this.touched(req.offsetBytes, req.lengthBytes);
    if (hits.length === 0) return next();
    if (req.type !== "read" && this.heal) {
      await next();
      for (const b of hits) if (this.bad.delete(b)) this.ctx.count("dustHeals");
      return;
    }
    const block = hits[0]!;
    const start = Math.max(req.offsetBytes, block * this.blockSize);
    const end = Math.min(req.offsetBytes + req.lengthBytes, (block + 1) * this.blockSize);
    this.ctx.count(req.type === "read" ? "dustReadErrors" : "dustWriteErrors");
    throw mediumError(this.ctx, req, start, end - start, `dust bad block ${block}`);
  }
}

/** dm-flakey: alternating up/down intervals measured on the injected clock. */
export class FlakeyAction implements FaultAction {
  readonly kind = "flakey";
  private epochMs: number;

  constructor(
    private readonly rule: Extract<NormalizedFaultRule, { kind: "flakey" }>,
    private readonly ctx: FaultContext,
  ) {
    this.epochMs = ctx.now();
  }

  config(): NormalizedFaultRule {
    return this.rule;
  }

  /** Restart the cycle (up first) at the current time. */
  reset(): void {
    this.epochMs = this.ctx.now();
  }

  /** Whether the device is in a down interval now. */
  isDown(): boolean {
    const elapsed = this.ctx.now() - this.epochMs;
    if (elapsed < 0) return false;
    return elapsed % (this.rule.upMs + this.rule.downMs) >= this.rule.upMs;
  }

  async apply(req: FaultRequest, next: () => Promise<void>): Promise<void> {
    if (!this.isDown()) return next();
    const modes = this.rule.modes;
    const why = "flakey: device is down";
    if (req.type === "read") {
      if (modes.includes("error-reads")) {
        this.ctx.count("flakeyReadErrors");
        throw mediumError(this.ctx, req, req.offsetBytes, req.lengthBytes, why);
      }
      await next();
      const at = this.rule.corruptOffset;
      if (modes.includes("corrupt-byte") && req.buffer && at < req.buffer.length) {
        req.buffer[at] = this.rule.corruptValue ?? req.buffer[at]! ^ 0xff;
        this.ctx.count("flakeyCorruptedReads");
      }
      return;
    }
    if (modes.includes("error-writes")) {
      this.ctx.count(req.type === "flush" ? "flakeyFlushErrors" : "flakeyWriteErrors");
      throw mediumError(this.ctx, req, req.offsetBytes, req.lengthBytes, why);
    }
    if (req.type !== "flush" && modes.includes("drop-writes")) {
      this.ctx.count("flakeyDroppedWrites");
      return;
    }
    return next();
  }
}

/** Seeded per-operation error rates; every request draws exactly one number, hit or not. */
export class RandomAction implements FaultAction {
  readonly kind = "random";
  private readonly prng: Prng;

  constructor(
    private readonly rule: Extract<NormalizedFaultRule, { kind: "random" }>,
    private readonly ctx: FaultContext,
  ) {
    this.prng = new Prng(rule.seed);
  }

  config(): NormalizedFaultRule {
    return this.rule;
  }

  async apply(req: FaultRequest, next: () => Promise<void>): Promise<void> {
    const draw = this.prng.next();
    const { readErrorRate, writeErrorRate, flushErrorRate } = this.rule;
    const [rate, counter] =
      req.type === "read"
        ? ([readErrorRate, "randomReadErrors"] as const)
        : req.type === "flush"
          ? ([flushErrorRate, "randomFlushErrors"] as const)
          : ([writeErrorRate, "randomWriteErrors"] as const);
    if (draw < rate) {
      this.ctx.count(counter);
      throw mediumError(this.ctx, req, req.offsetBytes, req.lengthBytes, `random: error rate ${rate}`);
    }
    return next();
  }
}

/** dm-delay: sleep before passing reads / write-type requests on (flushes are never delayed). */
export class DelayAction implements FaultAction {
  readonly kind = "delay";

  constructor(
    private readonly rule: Extract<NormalizedFaultRule, { kind: "delay" }>,
    private readonly ctx: FaultContext,
  ) {}

  config(): NormalizedFaultRule {
    return this.rule;
  }

  private touchesRange(req: FaultRequest): boolean {
    const { range } = this.rule;
    if (!range) return true;
    return (
      req.offsetBytes < range.offsetBytes + range.lengthBytes &&
      range.offsetBytes < req.offsetBytes + req.lengthBytes
    );
  }

  async apply(req: FaultRequest, next: () => Promise<void>): Promise<void> {
    if (req.type === "flush") return next();
    const ms = req.type === "read" ? this.rule.readDelayMs : this.rule.writeDelayMs;
    if (ms > 0 && this.touchesRange(req)) {
      this.ctx.count(req.type === "read" ? "delayedReads" : "delayedWrites");
      await this.ctx.sleep(ms);
    }
    return next();
  }
}

/** Build the live action for a validated rule. */
export function createFaultAction(rule: NormalizedFaultRule, ctx: FaultContext): FaultAction {
  switch (rule.kind) {
    case "dust":
      return new DustAction(rule, ctx);
    case "flakey":
      return new FlakeyAction(rule, ctx);
    case "random":
      return new RandomAction(rule, ctx);
    case "delay":
      return new DelayAction(rule, ctx);
  }
}
