// Typed errors of the formats folder: a malformed input file (ddrescue mapfile, block list, dm table)
// and a failed probe of an external tool (debugfs, dumpe2fs).
import { DmremapError } from "../core/errors.js";

/** A line of an input file is malformed; `line` is 1-based, `source` names the file or format. */
export class FormatSyntaxError extends DmremapError {
  constructor(
    readonly source: string,
    readonly line: number,
    readonly detail: string,
  ) {
    super("EFORMAT", `${source}: line ${line}: ${detail}`);
  }
}

/** An external tool (debugfs, dumpe2fs) failed or printed something this reader does not understand. */
export class ProbeError extends DmremapError {
  constructor(
    readonly tool: string,
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super("EPROBE", `${tool}: ${detail}`, options);
  }
}
