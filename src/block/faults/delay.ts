// delay: emulates a slow device (dm-delay): reads / writes wait before they go on, everywhere or
// only requests touching `range`. Flushes are never delayed; the wait is the layer's injectable sleep.
import { defineFaultKind } from "./fault-kind.js";
import { byteRange, duration } from "./option-types.js";

const MAX_DELAY_MS = 86_400_000;

/** The delay kind. */
export const delay = defineFaultKind({
  name: "delay",
  summary: "dm-delay: delay reads / writes, everywhere or only requests touching `range`",
  options: {
    read: { type: duration, default: 0, max: MAX_DELAY_MS, help: "delay of each read" },
    write: { type: duration, default: 0, max: MAX_DELAY_MS, help: "delay of each write / trim / zeroing" },
    range: { type: byteRange, defaultText: "whole device", help: "OFFSET+LENGTH: delay only this range" },
  },
  counters: [
    { name: "delayedReads", help: "reads delayed" },
    { name: "delayedWrites", help: "writes delayed" },
  ],
  check(o, sizeBytes, fail) {
    const { range } = o;
    if (range && range.offsetBytes + range.lengthBytes > sizeBytes) {
      const text = `${range.offsetBytes}+${range.lengthBytes}`;
      throw fail(
        "range",
        `delay range ${text} is not a non-empty range inside the device (size ${sizeBytes})`,
      );
    }
  },
  create(o, ctx) {
    const touches = (offsetBytes: number, lengthBytes: number) =>
      !o.range ||
      (offsetBytes < o.range.offsetBytes + o.range.lengthBytes &&
        o.range.offsetBytes < offsetBytes + lengthBytes);
    return {
      async apply(req, next) {
        if (req.type === "flush") return next();
        const ms = req.type === "read" ? o.read : o.write;
        if (ms > 0 && touches(req.offsetBytes, req.lengthBytes)) {
          ctx.count(req.type === "read" ? "delayedReads" : "delayedWrites");
          await ctx.sleep(ms);
        }
        return next();
      },
    };
  },
});
