// `dmremap remap|unremap|pending`: change the remap table of a set that is not being served.
import { boolOpt, parseIntArg, type Command, type CommandContext } from "./command.js";
import { SET_OPTIONS, withSet } from "./offline.js";
import { UsageError } from "./errors.js";
import type { RemappedDevice } from "../remap/remapped-device.js";

function blocksOf(ctx: CommandContext): number[] {
  if (ctx.positionals.length === 0) throw new UsageError("give at least one BLOCK number");
  return ctx.positionals.map((p) => parseIntArg("block", p));
}

function verb(
  name: string,
  summary: string,
  act: (device: RemappedDevice, block: number) => Promise<string>,
  extra: Command["options"] = {},
): Command {
  return {
    name,
    summary,
    args: "BLOCK...",
    options: { ...SET_OPTIONS, ...extra },
    async run(ctx) {
      const blocks = blocksOf(ctx);
      await withSet(ctx, async (target) => {
        for (const block of blocks) ctx.out.write(`block ${block}: ${await act(target.device, block)}\n`);
      });
      return 0;
    },
  };
}

export const remapCommand = verb(
  "remap",
  "move blocks to spare slots now (data copied; unreadable blocks become pending)",
  async (device, block) => {
    const outcome = await device.remapBlock(block);
    return outcome === "pending" ? "unreadable on main: marked pending" : outcome;
  },
);

export const unremapCommand = verb(
  "unremap",
  "copy remapped blocks back to main (after main was repaired or replaced) and free their slots",
  async (device, block) => {
    await device.unremapBlock(block);
    return "back on main";
  },
);

export const pendingCommand: Command = {
  ...verb("pending", "mark blocks pending (reads fail until written), or --clear them", async () => ""),
  options: { ...SET_OPTIONS, clear: { type: "boolean", help: "clear the pending mark instead" } },
  async run(ctx) {
    const blocks = blocksOf(ctx);
    const clear = boolOpt(ctx, "clear");
    await withSet(ctx, async (target) => {
      for (const block of blocks) {
        const changed = clear
          ? await target.device.clearPending(block)
          : await target.device.markPending(block);
        ctx.out.write(
          `block ${block}: ${clear ? "cleared" : "marked pending"}${changed ? "" : " (no change)"}\n`,
        );
      }
    });
    return 0;
  },
};
