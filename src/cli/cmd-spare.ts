// `dmremap spare add|list`: change and show a set's spare pool, through the running daemon
// (TARGET) or offline on a set that is not served (--spare names its members).
import type { BlockDevice } from "../block/block-device.js";
import { openDevice } from "../block/open-device.js";
import { assertNoOverlap } from "../block/overlap.js";
import { readSetIdentity, targetRegions } from "../daemon/stack.js";
import { lockSet } from "../daemon/set-lock.js";
import type { TargetStatus } from "../daemon/target.js";
import type { SpareUsage } from "../remap/spare-pool.js";
import { addSpareOffline } from "../spares/add-spare.js";
import type { DrainProgress } from "../spares/drain.js";
import type { MirrorRebuildProgress } from "../spares/mirror-rebuild.js";
import { removeSpareOffline } from "../spares/remove-spare.js";
import { boolOpt, stringsOpt, type Command, type CommandContext } from "./command.js";
import { JSON_OPTION, SET_OPTIONS, withSetReadOnly } from "./offline.js";
import { apiClient, isOffline, ONLINE_OPTIONS, onlineTarget } from "./online.js";
import type { SpareIdentity } from "../metadata/metadata-store.js";
import { UsageError } from "./errors.js";

const VERBS = ["add", "drain", "remove", "rebuild", "list"] as const;

export const spareCommand: Command = {
  name: "spare",
  summary:
    "add a spare to a set, drain one (move its blocks to the others), remove one, rebuild mirrors, or list them",
  args: "add|drain|remove|rebuild|list [TARGET] [DEV|INDEX]",
  options: {
    ...SET_OPTIONS,
    ...ONLINE_OPTIONS,
    ...JSON_OPTION,
    "no-wait": {
      type: "boolean",
      help: "drain, rebuild: start the job and return at once (progress: run the verb again)",
    },
    force: {
      type: "boolean",
      help: "add: overwrite a filesystem, partition table or another set's metadata on DEV",
    },
  },
  details: `add [TARGET] DEV: format a metadata area on DEV (both ends, a copy of the current table) and make
its slots part of the set's pool. Online (default): the running daemon adds it while serving, user
I/O goes on, the slots are usable when the command returns; then add DEV to the target's spares in
the config so the next start has it (without it the set opens degraded and names DEV). Online, the
set may be degraded (a spare missing): that is how a lost spare is replaced. Offline: name
every current spare with --spare (the set must not be served). The add is crash-safe: after a crash
the set has its old spares (run the add again, with --force) or the new one (DEV is a member).
drain [TARGET] DEV|INDEX (online): move every block whose slot is on that spare to slots on the
others (read, write, flush, commit each, under the block's lock) while serving; new remaps avoid it.
Prints progress until done (--no-wait: start it and return). Resumable: run it again after a crash
or restart and it moves what is left. The other spares need as many free slots as it holds.
remove [TARGET] DEV|INDEX (online): any spare of the set leaves it once it holds no block
(refused with the count otherwise: drain it first); its metadata is wiped so it is never taken for a
member again (a spare other than the last stays listed as "removed spare N", so that no slot number
changes). A missing spare (the set runs degraded without it) leaves the same way, by its old device
name or index, once no block has a copy there (a mirrored set: after spare rebuild); it stays listed
as removed and its device is refused if given again. Then remove it from the target's spares in the
config. Offline: name every current spare with --spare, and the one to remove (device or index)
last; the set must not be served.
rebuild [TARGET] [DEV|INDEX] (online, mirrored sets): give every remapped block its two copies
again, on two different healthy spares (after a spare went missing or failed; run it after spare add
of the replacement). With DEV, every new copy goes to that spare (refused by name unless it is a
present member that takes new slots). Each new copy is written and flushed before its metadata
commit; user I/O goes on. Prints progress until done (--no-wait: start it and return). Resumable:
run it again. A mirrored set that lost a spare: spare add NEW, spare rebuild NEW, spare remove the
lost one (by its old device name or index; it stays listed as a removed spare).
list [TARGET]: every spare of the set with its slots (total, used, free) and its metadata copy.
TARGET is the target's name, needed when the daemon serves several.
examples:
  dmremap spare add disk0 /dev/sdd1
  dmremap spare add --spare /dev/sdc1 /dev/sdd1
  dmremap spare remove --spare /dev/sdc1 --spare /dev/sdd1 --spare /dev/sde1 /dev/sdd1
  dmremap spare list --spare /dev/sdc1 --spare /dev/sdd1
  dmremap spare rebuild disk0
  dmremap spare rebuild disk0 /dev/sde1
  dmremap spare list disk0 --json`,
  async run(ctx) {
    const verb = ctx.positionals[0];
    if (!verb || !(VERBS as readonly string[]).includes(verb))
      throw new UsageError(`dmremap spare: give one of ${VERBS.join(", ")}${verb ? `, not "${verb}"` : ""}`);
    if (verb === "add") return addVerb(ctx);
    if (verb === "drain") return drainVerb(ctx);
    if (verb === "remove") return removeVerb(ctx);
    if (verb === "rebuild") return rebuildVerb(ctx);
    return listVerb(ctx);
  },
};

async function addVerb(ctx: CommandContext): Promise<number> {
  const specs = stringsOpt(ctx, "spare");
  const args = ctx.positionals.slice(1);
  if (!isOffline(ctx)) return addOnline(ctx, args);
  const newSpec = args[0];
  if (!newSpec || args.length > 1)
    throw new UsageError(
      "dmremap spare add: give exactly one device to add, e.g. spare add --spare OLD NEWDEV",
    );
  const identity = await readSetIdentity(specs);
  assertNoOverlap(
    await targetRegions({
      name: identity.name,
      spares: [...specs, newSpec],
      ...(identity.mainSpec ? { main: identity.mainSpec } : {}),
    }),
  );
  const opened: BlockDevice[] = [];
  try {
    for (const spec of [...specs, newSpec]) opened.push(await openDevice(spec, { exclusive: true }));
    const result = await addSpareOffline({
      members: opened.slice(0, specs.length),
      device: opened[specs.length]!,
      force: boolOpt(ctx, "force"),
      lock: lockSet,
    });
    const { added } = result;
    if (boolOpt(ctx, "json")) {
      ctx.out.write(
        JSON.stringify(
          { set: result.identity.name, uuid: result.identity.uuid, added: { ...added, device: newSpec } },
          null,
          2,
        ) + "\n",
      );
    } else {
      ctx.out.write(
        `added ${newSpec} as spare ${added.index} of set "${result.identity.name}": ${added.slotCount} slots (${added.firstSlot}..${added.firstSlot + added.slotCount - 1})\n` +
          `serve the set with every spare from now on: ${[...specs, newSpec].map((s) => `--spare ${s}`).join(" ")}\n`,
      );
    }
  } finally {
    await Promise.allSettled(opened.map((d) => d.close()));
  }
  return 0;
}

interface SpareRow extends SpareUsage {
  readonly device: string;
  readonly metadata: string;
  /** Recorded as drained or being drained (no new slot on it); online rows only. */
  readonly draining?: boolean;
  /** A removed spare kept as a tombstone (no device; its slot numbers stay reserved). */
  readonly removed?: boolean;
}

/** The config line that matches the set's spares now (the daemon does not rewrite its config). */
async function spareLine(client: ReturnType<typeof apiClient>, target: string): Promise<string> {
  const rows = await client.call<SpareRow[]>("GET", `/v1/targets/${encodeURIComponent(target)}/spares`);
  const live = rows.filter((r) => !r.removed);
  return `spares = [${live.map((r) => JSON.stringify(r.device)).join(", ")}]`;
}

/** `spare add [TARGET] DEV` through the daemon. */
async function addOnline(ctx: CommandContext, args: readonly string[]): Promise<number> {
  if (args.length < 1 || args.length > 2)
    throw new UsageError("dmremap spare add: give [TARGET] DEV (online) or --spare OLD... DEV (offline)");
  const client = apiClient(ctx);
  const target = await onlineTarget(client, args.length === 2 ? args[0] : undefined);
  const spec = args[args.length - 1]!;
  const body = { device: spec, ...(boolOpt(ctx, "force") ? { force: true } : {}) };
  const answer = await client.call<{ added: SpareIdentity & { device: string }; usableAfterMs: number }>(
    "POST",
    `/v1/targets/${encodeURIComponent(target)}/spares`,
    body,
  );
  if (boolOpt(ctx, "json")) ctx.out.write(JSON.stringify(answer, null, 2) + "\n");
  else {
    const a = answer.added;
    ctx.out.write(
      `added ${spec} as spare ${a.index} of target ${target}: ${a.slotCount} slots (${a.firstSlot}..${a.firstSlot + a.slotCount - 1}), usable after ${Math.round(answer.usableAfterMs)} ms\n` +
        `the daemon does not rewrite its config: set the target's line to\n  ${await spareLine(client, target)}\n` +
        `(or give --spare ${spec} to serve) so the next start has it\n`,
    );
  }
  return 0;
}

async function listRows(ctx: CommandContext): Promise<readonly SpareRow[]> {
  if (!isOffline(ctx)) {
    const client = apiClient(ctx);
    const target = await onlineTarget(client, ctx.positionals[1]);
    return client.call<SpareRow[]>("GET", `/v1/targets/${encodeURIComponent(target)}/spares`);
  }
  const status: TargetStatus = await withSetReadOnly(ctx, (_t, s) => s);
  const perSpare = (status.spare as { perSpare?: readonly SpareUsage[] }).perSpare ?? [];
  const copies = new Map(
    status.metadata.copies.map((c, i) => [(c as { spareIndex?: number }).spareIndex ?? i, c] as const),
  );
  return perSpare.map((s) => ({
    ...s,
    device: copies.get(s.index)?.device ?? "",
    metadata: copies.get(s.index)?.state ?? "unknown",
  }));
}

async function listVerb(ctx: CommandContext): Promise<number> {
  const rows = await listRows(ctx);
  if (boolOpt(ctx, "json")) {
    ctx.out.write(JSON.stringify(rows, null, 2) + "\n");
    return 0;
  }
  const lines = ["index  total  used  free  metadata  device"];
  for (const r of rows)
    lines.push(
      `${String(r.index).padStart(5)}  ${String(r.totalBlocks).padStart(5)}  ${String(r.usedBlocks).padStart(4)}  ${String(r.freeBlocks).padStart(4)}  ${r.metadata.padEnd(8)}  ${r.device}${r.draining ? "  (drained: no new slots)" : ""}`,
    );
  ctx.out.write(lines.join("\n") + "\n");
  return 0;
}

const drainLine = (p: DrainProgress) =>
  `drain of spare ${p.spare}: ${p.state}, ${p.done}/${p.total} blocks, ${p.rateBlocksPerSecond.toFixed(0)} blocks/s` +
  `${p.etaSeconds !== undefined ? `, ${Math.ceil(p.etaSeconds)} s left` : ""}${p.lostBlocks ? `, ${p.lostBlocks} with lost sectors` : ""}` +
  `${p.error ? `: ${p.error}` : ""}`;

/** The target and spare row named by `[TARGET] DEV|INDEX` on the command line (online). */
async function onlineSpare(ctx: CommandContext, verb: string) {
  if (isOffline(ctx))
    throw new UsageError(`dmremap spare ${verb} works on a served set: give [TARGET] DEV|INDEX, not --spare`);
  const args = ctx.positionals.slice(1);
  if (args.length < 1 || args.length > 2)
    throw new UsageError(`dmremap spare ${verb}: give [TARGET] DEV|INDEX`);
  const client = apiClient(ctx);
  const target = await onlineTarget(client, args.length === 2 ? args[0] : undefined);
  const which = args[args.length - 1]!;
  const base = `/v1/targets/${encodeURIComponent(target)}/spares`;
  const rows = await client.call<SpareRow[]>("GET", base);
  const row =
    rows.find((r) => r.device === which) ??
    (/^\d+$/.test(which) ? rows.find((r) => r.index === Number(which)) : undefined);
  if (!row)
    throw new UsageError(
      `target ${target} has no spare "${which}" (spares: ${rows.map((r) => `${r.index} ${r.device}`).join(", ")})`,
    );
  return { client, target, base, row };
}

/** `spare remove --spare DEV... DEV|INDEX` on a set that is not served. */
async function removeOffline(ctx: CommandContext): Promise<number> {
  const specs = stringsOpt(ctx, "spare");
  const args = ctx.positionals.slice(1);
  const which = args[0];
  if (!which || args.length > 1)
    throw new UsageError(
      "dmremap spare remove: give the spare to remove, e.g. spare remove --spare A --spare B B",
    );
  const index = /^\d+$/.test(which) ? Number(which) : specs.indexOf(which);
  if (index < 0)
    throw new UsageError(
      `dmremap spare remove: ${which} is not one of the --spare devices (${specs.join(", ")})`,
    );
  const opened: BlockDevice[] = [];
  try {
    for (const spec of specs) opened.push(await openDevice(spec, { exclusive: true }));
    const result = await removeSpareOffline({
      members: opened,
      which: /^\d+$/.test(which) ? index : opened[index]!,
      lock: lockSet,
    });
    const remaining = result.remaining.map((d) => specs[opened.indexOf(d)]!);
    if (boolOpt(ctx, "json"))
      ctx.out.write(
        JSON.stringify(
          { set: result.identity.name, uuid: result.identity.uuid, removed: result.index, remaining },
          null,
          2,
        ) + "\n",
      );
    else
      ctx.out.write(
        `removed spare ${result.index} from set "${result.identity.name}"; its metadata is wiped\n` +
          `serve the set with these spares from now on: ${remaining.map((s) => `--spare ${s}`).join(" ")}\n`,
      );
  } finally {
    await Promise.allSettled(opened.map((d) => d.close()));
  }
  return 0;
}

/** `spare remove [TARGET] DEV|INDEX` through the daemon. */
async function removeVerb(ctx: CommandContext): Promise<number> {
  if (isOffline(ctx)) return removeOffline(ctx);
  const { client, target, base, row } = await onlineSpare(ctx, "remove");
  const answer = await client.call<{ removed: { index: number; device: string } }>(
    "DELETE",
    `${base}/${row.index}`,
  );
  if (boolOpt(ctx, "json")) ctx.out.write(JSON.stringify(answer, null, 2) + "\n");
  else
    ctx.out.write(
      `removed spare ${answer.removed.index} (${answer.removed.device}) from target ${target}; its metadata is wiped\n` +
        `the daemon does not rewrite its config: set the target's line to\n  ${await spareLine(client, target)}\n`,
    );
  return 0;
}

/** `spare drain [TARGET] DEV|INDEX` through the daemon: start, then show progress until done. */
async function drainVerb(ctx: CommandContext): Promise<number> {
  const { client, base, row } = await onlineSpare(ctx, "drain");
  let progress = await client.call<DrainProgress>("POST", `${base}/${row.index}/drain`);
  const json = boolOpt(ctx, "json");
  if (!boolOpt(ctx, "no-wait")) {
    let stopped = false;
    void ctx.stopSignal.then(() => (stopped = true));
    while (!stopped && (progress.state === "running" || progress.state === "paused")) {
      if (!json) ctx.err.write(drainLine(progress) + "\n");
      await Promise.race([ctx.stopSignal, new Promise((r) => setTimeout(r, 500))]);
      progress = await client.call<DrainProgress>("GET", `${base}/${row.index}/drain`);
    }
  }
  ctx.out.write(json ? JSON.stringify(progress, null, 2) + "\n" : drainLine(progress) + "\n");
  return progress.state === "failed" ? 1 : 0;
}

const rebuildLine = (p: MirrorRebuildProgress) =>
  `mirror rebuild${p.onto !== undefined ? ` onto spare ${p.onto}` : ""}: ${p.state}, ${p.done}/${p.total} blocks, ${p.rebuilt} with two copies again` +
  `${p.singleCopy ? `, ${p.singleCopy} still with one copy (no room on another healthy spare)` : ""}` +
  `${p.unreadable ? `, ${p.unreadable} unreadable` : ""}, ${p.rateBlocksPerSecond.toFixed(0)} blocks/s` +
  `${p.etaSeconds !== undefined ? `, ${Math.ceil(p.etaSeconds)} s left` : ""}${p.error ? `: ${p.error}` : ""}`;

/** The target and the spare index named by `[TARGET] [DEV|INDEX]` of `spare rebuild`. */
async function rebuildArgs(ctx: CommandContext) {
  const args = ctx.positionals.slice(1);
  if (args.length > 2) throw new UsageError("dmremap spare rebuild: give [TARGET] [DEV|INDEX]");
  const client = apiClient(ctx);
  let [name, which]: (string | undefined)[] = args;
  if (args.length === 1) {
    // One word: a target's name, or else the spare of the only target.
    const targets = await client.call<{ name: string }[]>("GET", "/v1/targets");
    if (!targets.some((t) => t.name === name)) [name, which] = [undefined, name];
  }
  const target = await onlineTarget(client, name);
  if (which === undefined) return { client, target };
  const rows = await client.call<SpareRow[]>("GET", `/v1/targets/${encodeURIComponent(target)}/spares`);
  const row =
    rows.find((r) => r.device === which) ??
    (/^\d+$/.test(which) ? rows.find((r) => r.index === Number(which)) : undefined);
  if (!row)
    throw new UsageError(
      `dmremap spare rebuild: "${which}" is not a spare of target ${target} (spares: ${rows.map((r) => `${r.index} ${r.device}`).join(", ")})`,
    );
  return { client, target, spare: row.index };
}

/** `spare rebuild [TARGET] [DEV|INDEX]` through the daemon: start, then show progress until done. */
async function rebuildVerb(ctx: CommandContext): Promise<number> {
  if (isOffline(ctx))
    throw new UsageError(
      "dmremap spare rebuild works on a served set: give [TARGET] [DEV|INDEX], not --spare",
    );
  const { client, target, spare } = await rebuildArgs(ctx);
  const path = `/v1/targets/${encodeURIComponent(target)}/mirror/rebuild`;
  let progress = await client.call<MirrorRebuildProgress>(
    "POST",
    path,
    spare === undefined ? undefined : { spare },
  );
  const json = boolOpt(ctx, "json");
  if (!boolOpt(ctx, "no-wait")) {
    let stopped = false;
    void ctx.stopSignal.then(() => (stopped = true));
    while (!stopped && progress.state === "running") {
      if (!json) ctx.err.write(rebuildLine(progress) + "\n");
      await Promise.race([ctx.stopSignal, new Promise((r) => setTimeout(r, 500))]);
      progress = await client.call<MirrorRebuildProgress>("GET", path);
    }
  }
  ctx.out.write(json ? JSON.stringify(progress, null, 2) + "\n" : rebuildLine(progress) + "\n");
  return progress.state === "failed" || progress.singleCopy + progress.unreadable > 0 ? 1 : 0;
}
