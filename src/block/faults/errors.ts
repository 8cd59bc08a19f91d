// Typed errors of fault rules: a rule whose kind or option is wrong, naming the field as the caller spelled it.
import { SpecError } from "../errors.js";

/** A fault rule is invalid (unknown kind, unknown or wrong-typed option, value out of bounds). */
export class FaultRuleError extends SpecError {
  constructor(
    /** The rule kind ("dust"), or the kind text as given when it is unknown. */
    readonly kind: string,
    /** The offending option in the caller's spelling ("block-size", "block_size", "blockSize"), or "kind". */
    readonly field: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(kind, message, options);
  }
}
