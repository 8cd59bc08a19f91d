// Offline access to a set (device not served): open the stack from the command line's devices.
import { openStack, type AssembledTarget } from "../daemon/stack.js";
import { targetStatus } from "../daemon/control-target.js";
import type { TargetStatus } from "../daemon/target.js";
import { stringOpt, stringsOpt, type CommandContext, type OptionSpec } from "./command.js";
import { UsageError } from "./errors.js";

/** Options shared by every offline command. */
export const SET_OPTIONS: Record<string, OptionSpec> = {
  spare: { type: "string", multiple: true, value: "DEV", help: "a spare device of the set (all of them)" },
  main: { type: "string", value: "DEV", help: "main device (default: the one recorded at create time)" },
};

/** `--json` */
export const JSON_OPTION: Record<string, OptionSpec> = {
  json: { type: "boolean", help: "print JSON instead of a table" },
};

function definition(ctx: Pick<CommandContext, "values">) {
  const spares = stringsOpt(ctx, "spare");
  if (spares.length === 0) throw new UsageError("give the set's spare devices with --spare DEV");
  const main = stringOpt(ctx, "main");
  return { name: "offline", spares, ...(main ? { main } : {}) };
}

/** Open the set for inspection: devices read-only, no repair, nothing written on close. */
export async function withSetReadOnly<T>(
  ctx: Pick<CommandContext, "values">,
  use: (target: AssembledTarget, status: TargetStatus) => Promise<T> | T,
): Promise<T> {
  const target = await openStack(definition(ctx), { mode: "inspect" });
  const status = targetStatus(target);
  try {
    return await use(target, status);
  } finally {
    await target.close();
  }
}

/** Open the set read-write (repairing stale copies), run `use`, then close (checkpoint). */
export async function withSet<T>(
  ctx: Pick<CommandContext, "values">,
  use: (target: AssembledTarget) => Promise<T>,
): Promise<T> {
  const target = await openStack(definition(ctx), { mode: "serve" });
  try {
    return await use(target);
  } finally {
    await target.close();
  }
}
