// Errors of the spare-pool operations (src/spares). Conditions the metadata layer already names
// (spare in use, too small, foreign, another set's signature) keep their own classes and codes.
import { DmremapError } from "../core/errors.js";

/** A pool operation cannot run on this set in its present state (read-only, wrong kind of store). */
export class SpareOperationError extends DmremapError {
  constructor(
    readonly target: string,
    message: string,
  ) {
    super("EBUSY", message);
  }
}
