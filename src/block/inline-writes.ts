// Small page-aligned writes of a buffered file on a disk go straight into the page cache from the
// event loop (a synchronous pwrite of a few microseconds) instead of a threadpool round trip that
// costs more CPU than the copy. A buffered write of whole pages never reads the device; it can still
// sleep when the kernel throttles writers with too many dirty pages (up to about 200 ms a time), so a
// write slower than `slowMs` turns the inline path off for a cool-off (doubling while writes stay
// slow, up to a minute): a device whose writeback is in trouble gets its writes off the event loop.
import { performance } from "node:perf_hooks";
import { SpecError } from "./errors.js";

/** An inline write slower than this (ms) sends the device's writes to the threadpool for a while. */
export const INLINE_SLOW_MS = 2;
const FIRST_COOL_OFF_MS = 1000;
const MAX_COOL_OFF_MS = 60_000;
/** Inline writes must cover whole pages (no read-modify-write of a page from the device). */
export const INLINE_PAGE_BYTES = 4096;

/** Whether small buffered writes may run on the event loop, from how long the last ones took. */
export class InlineWriteGate {
  /** Inline writes that took longer than `slowMs`. */
  slowWrites = 0;
  private offUntil = 0;
  private coolOffMs = FIRST_COOL_OFF_MS;

  constructor(
    private readonly now: () => number = () => performance.now(),
    private readonly slowMs = INLINE_SLOW_MS,
  ) {}

  /** May the next small buffered write run on the event loop? */
  allows(): boolean {
    return this.offUntil === 0 || this.now() >= this.offUntil;
  }

  /** Cooling off after a slow write (writes go to the threadpool). */
  get coolingOff(): boolean {
    return !this.allows();
  }

  /** Report the duration of an inline write, in milliseconds. */
  took(ms: number): void {
    if (ms <= this.slowMs) {
      if (this.offUntil !== 0) {
        this.offUntil = 0;
        this.coolOffMs = Math.max(FIRST_COOL_OFF_MS, this.coolOffMs / 2);
      }
      return;
    }
    this.slowWrites++;
    this.offUntil = this.now() + this.coolOffMs;
    this.coolOffMs = Math.min(this.coolOffMs * 2, MAX_COOL_OFF_MS);
  }
}

/** DMREMAP_IO_INLINE_WRITES: "1" (default) or "0" to keep every disk write on the threadpool. */
export function inlineWritesFromEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  const value = env["DMREMAP_IO_INLINE_WRITES"];
  if (value === undefined || value === "" || value === "1") return true;
  if (value === "0") return false;
  throw new SpecError("DMREMAP_IO_INLINE_WRITES", `DMREMAP_IO_INLINE_WRITES="${value}" is not 0 or 1`);
}
