// random: emulates a device with transient errors at seeded per-operation rates. Every request draws
// exactly one number from the PRNG, hit or not, so the same seed and requests give the same faults.
import { Prng } from "../prng.js";
import { defineFaultKind, injectedError } from "./fault-kind.js";
import { integer, rate } from "./option-types.js";

/** The random kind. */
export const random = defineFaultKind({
  name: "random",
  summary: "seeded per-operation error rates",
  options: {
    read: { type: rate, default: 0, help: "probability that a read fails" },
    write: { type: rate, default: 0, help: "probability that a write / trim / zeroing fails" },
    flush: { type: rate, default: 0, help: "probability that a flush fails" },
    seed: { type: integer, default: 1, max: 2 ** 32 - 1, help: "PRNG seed: same seed, same fault sequence" },
  },
  counters: [
    { name: "randomReadErrors", help: "reads failed at random" },
    { name: "randomWriteErrors", help: "writes failed at random" },
    { name: "randomFlushErrors", help: "flushes failed at random" },
  ],
  create(o, ctx) {
    const prng = new Prng(o.seed);
    return {
      async apply(req, next) {
        const draw = prng.next();
        const [r, counter] =
          req.type === "read"
            ? ([o.read, "randomReadErrors"] as const)
            : req.type === "flush"
              ? ([o.flush, "randomFlushErrors"] as const)
              : ([o.write, "randomWriteErrors"] as const);
        if (draw < r) {
          ctx.count(counter);
          throw injectedError(ctx, req, req.offsetBytes, req.lengthBytes, `random: error rate ${r}`);
        }
        return next();
      },
    };
  },
});
