// `dmremap replace-main [TARGET] NEWDEV` and `replace-main status|pause|resume [TARGET]`: move a
// served set onto a new main device while it serves (like `mdadm --replace`), through the daemon.
import { formatSize, parseSize } from "../block/size.js";
import type { ReplaceProgress } from "../spares/replace-main.js";
import { boolOpt, stringOpt, type Command, type CommandContext } from "./command.js";
import { UsageError } from "./errors.js";
import { JSON_OPTION } from "./offline.js";
import { apiClient, isOffline, ONLINE_OPTIONS, onlineTarget } from "./online.js";

const VERBS = ["status", "pause", "resume"] as const;

/** What the daemon reports of a replacement: the job's progress, the new and the old device. */
type ReplaceView = ReplaceProgress & { readonly device: string; readonly previous: string };

/** What --dry-run reports. */
interface PlanView {
  readonly device: string;
  readonly previous: string;
  readonly sizeBytes: number;
  readonly newDeviceBytes: number;
  readonly blockSize: number;
  readonly blocks: number;
  readonly remapped: number;
  readonly pending: number;
  readonly toCopy: number;
  readonly signatures: readonly string[];
}

const BAR = 30;

/** One progress line: bar, percent, bytes, rate, ETA, what was skipped or is left pending. */
export function replaceLine(p: ReplaceView): string {
  const fraction = p.totalBytes > 0 ? Math.min(1, p.doneBytes / p.totalBytes) : 1;
  const filled = Math.round(fraction * BAR);
  const bar = `[${"#".repeat(filled)}${".".repeat(BAR - filled)}] ${(fraction * 100).toFixed(1).padStart(5)}%`;
  const unreadable = p.unreadableBlocks.length;
  return (
    `replace-main ${p.previous} -> ${p.device}: ${p.state} (${p.phase}) ${bar} ` +
    `${formatSize(p.doneBytes)}/${formatSize(p.totalBytes)}, ${formatSize(Math.round(p.rateBytesPerSecond))}/s` +
    `${p.etaSeconds !== undefined ? `, ${Math.ceil(p.etaSeconds)} s left` : ""}` +
    `${p.remappedSkipped ? `, ${p.remappedSkipped} remapped blocks from their spares` : ""}` +
    `${p.retryBlocks ? `, ${p.retryBlocks} blocks to retry` : ""}` +
    `${p.unremapped ? `, ${p.unremapped} moved back from the spares` : ""}` +
    `${unreadable ? `, ${unreadable} unreadable (pending): ${p.unreadableBlocks.slice(0, 10).join(" ")}${unreadable > 10 ? " ..." : ""}` : ""}` +
    `${p.error ? `: ${p.error}` : ""}`
  );
}

function planText(p: PlanView): string {
  return (
    `dry run: would copy the main of the set (${formatSize(p.sizeBytes)}, ${p.blocks} blocks of ${p.blockSize}) ` +
    `from ${p.previous} to ${p.device} (${formatSize(p.newDeviceBytes)}):\n` +
    `  ${p.toCopy} blocks read from the old main, ${p.remapped} remapped blocks moved back from their spare slots after the switch,\n` +
    `  ${p.pending} pending blocks retried last (left pending on the new main if still unreadable)\n` +
    (p.signatures.length > 0
      ? `  ${p.device} contains a ${p.signatures.join(" and a ")}: refused without --force\n`
      : "") +
    `then: flush ${p.device}, record it as the set's main (one metadata commit), serve from it, close the old main\n`
  );
}

export const replaceMainCommand: Command = {
  name: "replace-main",
  summary: "copy the main device of a served set to NEWDEV while serving, then switch the set to it",
  args: "[TARGET] NEWDEV | status|pause|resume [TARGET]",
  options: {
    ...ONLINE_OPTIONS,
    ...JSON_OPTION,
    "dry-run": {
      type: "boolean",
      help: "say what the replacement would do (blocks to copy, remapped, pending, sizes) and change nothing",
    },
    mapfile: {
      type: "string",
      value: "FILE",
      help: "keep a GNU ddrescue mapfile of the copy's state in FILE (written by the daemon)",
    },
    "chunk-size": {
      type: "string",
      value: "SIZE",
      help: "bytes per sequential copy request (default 1M; a multiple of the block size, at most 64M): smaller pauses sooner",
    },
    force: {
      type: "boolean",
      help: "overwrite NEWDEV even though it holds a filesystem, partition table or set metadata",
    },
    "no-wait": {
      type: "boolean",
      help: "start the replacement and return at once (progress: replace-main status)",
    },
  },
  details: `Like mdadm --replace: the old main keeps serving while every block is copied to NEWDEV. Healthy
blocks are read from the old main in large sequential pieces; remapped blocks stay on their spare
slots and are moved back onto NEWDEV after the switch; blocks whose read fails are skipped and
retried one by one at the end (ddrescue's trim/scrape); writes during the copy go to both devices.
At the end NEWDEV is flushed, recorded as the set's main in one metadata commit, and served from;
the old main is closed. Blocks no read could recover are left pending on the new main and listed.
NEWDEV must be at least as large as the main, not in use (opened O_EXCL), not overlap a member,
and carry no signature (unless --force). Resumable: after a crash or restart the daemon re-arms the
copy to NEWDEV before serving and continues near where it stopped (state in DMREMAP_STATE_DIR,
default /var/lib/dmremap, <set uuid>.replace.json). After the switch set main = "NEWDEV" in the config.
status [TARGET]: progress (done, rate, ETA, phase); pause / resume [TARGET]: hold the copy between
two requests and release it.
examples:
  dmremap replace-main disk0 /dev/disk/by-id/wwn-0x5000c500a1b2c3d4 --dry-run
  dmremap replace-main disk0 /dev/sde --mapfile /root/disk0-replace.map
  dmremap replace-main status disk0 --json`,
  async run(ctx) {
    if (isOffline(ctx))
      throw new UsageError("dmremap replace-main works on a served set (through the daemon)");
    const args = ctx.positionals;
    const verb = args[0];
    if (verb && (VERBS as readonly string[]).includes(verb)) return controlVerb(ctx, verb, args.slice(1));
    if (args.length < 1 || args.length > 2)
      throw new UsageError("dmremap replace-main: give [TARGET] NEWDEV, or status|pause|resume [TARGET]");
    return startVerb(ctx, args.length === 2 ? args[0] : undefined, args[args.length - 1]!);
  },
};

async function startVerb(ctx: CommandContext, name: string | undefined, device: string): Promise<number> {
  const client = apiClient(ctx);
  const target = await onlineTarget(client, name);
  const path = `/v1/targets/${encodeURIComponent(target)}/replace-main`;
  const json = boolOpt(ctx, "json");
  const mapfile = stringOpt(ctx, "mapfile");
  const chunk = stringOpt(ctx, "chunk-size");
  let chunkBytes: number | undefined;
  try {
    chunkBytes = chunk === undefined ? undefined : parseSize(chunk);
  } catch (err) {
    throw new UsageError(`dmremap replace-main: --chunk-size ${(err as Error).message}`);
  }
  const body = {
    device,
    ...(boolOpt(ctx, "force") ? { force: true } : {}),
    ...(boolOpt(ctx, "dry-run") ? { dryRun: true } : {}),
    ...(mapfile ? { mapfile } : {}),
    ...(chunkBytes !== undefined ? { chunkBytes } : {}),
  };
  if (boolOpt(ctx, "dry-run")) {
    const plan = await client.call<PlanView>("POST", path, body);
    ctx.out.write(json ? JSON.stringify(plan, null, 2) + "\n" : planText(plan));
    return 0;
  }
  let progress = await client.call<ReplaceView>("POST", path, body);
  if (!boolOpt(ctx, "no-wait")) {
    let stopped = false;
    void ctx.stopSignal.then(() => (stopped = true));
    while (!stopped && (progress.state === "running" || progress.state === "paused")) {
      if (!json) ctx.err.write(replaceLine(progress) + "\n");
      await Promise.race([ctx.stopSignal, new Promise((r) => setTimeout(r, 500))]);
      progress = await client.call<ReplaceView>("GET", path);
    }
  }
  return finish(ctx, progress, target);
}

async function controlVerb(ctx: CommandContext, verb: string, rest: readonly string[]): Promise<number> {
  if (rest.length > 1) throw new UsageError(`dmremap replace-main ${verb}: give [TARGET]`);
  const client = apiClient(ctx);
  const target = await onlineTarget(client, rest[0]);
  const path = `/v1/targets/${encodeURIComponent(target)}/replace-main`;
  const progress = await client.call<ReplaceView>(
    verb === "status" ? "GET" : "POST",
    verb === "status" ? path : `${path}/${verb}`,
  );
  return finish(ctx, progress, target);
}

function finish(ctx: CommandContext, progress: ReplaceView, target: string): number {
  if (boolOpt(ctx, "json")) ctx.out.write(JSON.stringify(progress, null, 2) + "\n");
  else {
    ctx.out.write(replaceLine(progress) + "\n");
    if (progress.state === "done")
      ctx.out.write(
        `target ${target} now serves from ${progress.device}: set main = "${progress.device}" in the config\n`,
      );
  }
  return progress.state === "failed" ? 1 : 0;
}
