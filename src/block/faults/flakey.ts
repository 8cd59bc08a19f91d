// flakey: emulates a device that works for `up`, then misbehaves for `down`, repeating (dm-flakey);
// the modes say how it misbehaves. Intervals are measured on the fault layer's injectable clock.
import {
  defineFaultKind,
  injectedError,
  type FaultAction,
  type FaultContext,
  type FaultRequest,
} from "./fault-kind.js";
import { duration, enumList, integer } from "./option-types.js";

/** What a flakey rule does while the device is down (dm-flakey's feature args). */
export type FlakeyMode = "error-reads" | "error-writes" | "drop-writes" | "corrupt-byte";

/** Every flakey mode, in documentation order. */
export const FLAKEY_MODES: readonly FlakeyMode[] = [
  "error-reads",
  "error-writes",
  "drop-writes",
  "corrupt-byte",
];

const EXCLUSIVE: readonly (readonly [FlakeyMode, FlakeyMode])[] = [
  ["error-writes", "drop-writes"],
  ["error-reads", "corrupt-byte"],
];

interface FlakeyOptions {
  readonly up: number;
  readonly down: number;
  readonly modes: readonly FlakeyMode[];
  readonly corruptOffset: number;
  readonly corruptValue: number | undefined;
}

/** The live up/down cycle of one flakey rule. */
export class FlakeyAction implements FaultAction {
  private epochMs: number;

  constructor(
    private readonly o: FlakeyOptions,
    private readonly ctx: FaultContext,
  ) {
    this.epochMs = ctx.now();
  }

  /** Restart the cycle (up first) at the current time. */
  reset(): void {
    this.epochMs = this.ctx.now();
  }

  /** Whether the device is in a down interval now. */
  isDown(): boolean {
    const elapsed = this.ctx.now() - this.epochMs;
    if (elapsed < 0) return false;
    return elapsed % (this.o.up + this.o.down) >= this.o.up;
  }

  status(): Record<string, unknown> {
    return { down: this.isDown() };
  }

  async apply(req: FaultRequest, next: () => Promise<void>): Promise<void> {
    if (!this.isDown()) return next();
    const modes = this.o.modes;
    const why = "flakey: device is down";
    if (req.type === "read") {
      if (modes.includes("error-reads")) {
        this.ctx.count("flakeyReadErrors");
        throw injectedError(this.ctx, req, req.offsetBytes, req.lengthBytes, why);
      }
      await next();
      const at = this.o.corruptOffset;
      if (modes.includes("corrupt-byte") && req.buffer && at < req.buffer.length) {
        req.buffer[at] = this.o.corruptValue ?? req.buffer[at]! ^ 0xff;
        this.ctx.count("flakeyCorruptedReads");
      }
      return;
    }
    if (modes.includes("error-writes")) {
      this.ctx.count(req.type === "flush" ? "flakeyFlushErrors" : "flakeyWriteErrors");
      throw injectedError(this.ctx, req, req.offsetBytes, req.lengthBytes, why);
    }
    if (req.type !== "flush" && modes.includes("drop-writes")) {
      this.ctx.count("flakeyDroppedWrites");
      return;
    }
    return next();
  }
}

/** The flakey kind. */
export const flakey = defineFaultKind({
  name: "flakey",
  summary: "dm-flakey: up for `up`, then down for `down`, repeating; `mode`s apply while down",
  options: {
    up: { type: duration, required: true, help: "length of each up interval" },
    down: { type: duration, required: true, help: "length of each down interval" },
    modes: {
      type: enumList(FLAKEY_MODES),
      default: ["error-reads", "error-writes"],
      help: FLAKEY_MODES.join(" | "),
    },
    corruptOffset: { type: integer, default: 0, help: "corrupt-byte: byte of each read to corrupt" },
    corruptValue: {
      type: integer,
      max: 255,
      defaultText: "byte XOR 0xff",
      help: "corrupt-byte: value to store",
    },
  },
  counters: [
    { name: "flakeyReadErrors", help: "reads failed while down" },
    { name: "flakeyWriteErrors", help: "writes failed while down" },
    { name: "flakeyFlushErrors", help: "flushes failed while down" },
    { name: "flakeyDroppedWrites", help: "writes acknowledged but dropped while down" },
    { name: "flakeyCorruptedReads", help: "reads corrupted while down" },
  ],
  check(o, _sizeBytes, fail) {
    if (o.up + o.down === 0) throw fail("down", "flakey up and down intervals are both 0");
    if (o.modes.length === 0) throw fail("modes", "flakey needs at least one mode");
    for (const [a, b] of EXCLUSIVE) {
      if (o.modes.includes(a) && o.modes.includes(b))
        throw fail("modes", `flakey modes "${a}" and "${b}" exclude each other`);
    }
  },
  create: (o, ctx) => new FlakeyAction(o, ctx),
});
