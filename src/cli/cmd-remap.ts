// `dmremap remap|unremap|pending`: change the remap table, through the daemon or offline (--spare).
import { boolOpt, parseIntArg, stringOpt, type Command, type CommandContext } from "./command.js";
import { SET_OPTIONS, withSet } from "./offline.js";
import { apiClient, isOffline, ONLINE_OPTIONS, onlineTarget } from "./online.js";
import { UsageError } from "./errors.js";
import type { RemappedDevice } from "../remap/remapped-device.js";

function blocksOf(ctx: CommandContext): number[] {
  if (ctx.positionals.length === 0) throw new UsageError("give at least one BLOCK number");
  return ctx.positionals.map((p) => parseIntArg("block", p));
}

const TARGET_OPTION: Command["options"] = {
  target: { type: "string", value: "NAME", help: "target of the daemon (default: its only target)" },
};

/** Run an online API call for every block, or the offline action on the opened set. */
async function apply(
  ctx: CommandContext,
  online: { method: "POST" | "DELETE"; path: (block: number) => string; body: (blocks: number[]) => unknown },
  offline: (device: RemappedDevice, block: number) => Promise<string>,
  onlineDone: string,
): Promise<number> {
  const blocks = blocksOf(ctx);
  if (isOffline(ctx)) {
    await withSet(ctx, async (target) => {
      for (const block of blocks) ctx.out.write(`block ${block}: ${await offline(target.device, block)}\n`);
    });
    return 0;
  }
  const client = apiClient(ctx);
  const name = encodeURIComponent(await onlineTarget(client, stringOpt(ctx, "target")));
  if (online.method === "DELETE") {
    for (const block of blocks) await client.call("DELETE", `/v1/targets/${name}${online.path(block)}`);
  } else {
    await client.call("POST", `/v1/targets/${name}${online.path(0)}`, online.body(blocks));
  }
  for (const block of blocks) ctx.out.write(`block ${block}: ${onlineDone}\n`);
  return 0;
}

function verb(name: string, summary: string, run: Command["run"], extra: Command["options"] = {}): Command {
  return {
    name,
    summary,
    args: "BLOCK...",
    options: { ...SET_OPTIONS, ...ONLINE_OPTIONS, ...TARGET_OPTION, ...extra },
    details: "Without --spare, the running daemon does it (--api); with --spare, the set must not be served.",
    run,
  };
}

export const remapCommand = verb(
  "remap",
  "move blocks to spare slots now (data copied; unreadable blocks become pending)",
  (ctx) =>
    apply(
      ctx,
      { method: "POST", path: () => "/remap", body: (blocks) => ({ blocks }) },
      async (device, block) => {
        const outcome = await device.remapBlock(block);
        return outcome === "pending" ? "unreadable on main: marked pending" : outcome;
      },
      "remap requested",
    ),
);

export const unremapCommand = verb(
  "unremap",
  "copy remapped blocks back to main (after main was repaired or replaced) and free their slots",
  (ctx) =>
    apply(
      ctx,
      { method: "POST", path: () => "/unremap", body: (blocks) => ({ blocks }) },
      async (device, block) => {
        await device.unremapBlock(block);
        return "back on main";
      },
      "back on main",
    ),
);

export const pendingCommand = verb(
  "pending",
  "mark blocks pending (reads fail until written), or --clear them",
  (ctx) => {
    const clear = boolOpt(ctx, "clear");
    return apply(
      ctx,
      clear
        ? { method: "DELETE", path: (b) => `/pending/${b}`, body: () => undefined }
        : { method: "POST", path: () => "/pending", body: (blocks) => ({ blocks }) },
      async (device, block) => {
        const changed = clear ? await device.clearPending(block) : await device.markPending(block);
        return `${clear ? "cleared" : "marked pending"}${changed ? "" : " (no change)"}`;
      },
      clear ? "cleared" : "marked pending",
    );
  },
  { clear: { type: "boolean", help: "clear the pending mark instead" } },
);
