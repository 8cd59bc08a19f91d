// `dmremap status`, `list` and `check`: look at a set, offline or through a running daemon.
import { openStack } from "../daemon/stack.js";
import { pendingBlocks } from "../daemon/control-target.js";
import { boolOpt, parseIntArg, stringOpt, stringsOpt, type Command } from "./command.js";
import { JSON_OPTION, SET_OPTIONS, withSetReadOnly } from "./offline.js";
import { renderList, renderStatus } from "./render.js";
import { UsageError } from "./errors.js";
import {
  apiClient,
  DEFAULT_API_ADDRESS,
  isOffline,
  ONLINE_OPTIONS,
  onlineStatus,
  onlineTarget,
} from "./online.js";
import type { RemapEntryView, RemapPage } from "../daemon/target.js";

export const statusCommand: Command = {
  name: "status",
  summary: "show state, counters, spare usage and metadata copies (daemon, or offline with --spare)",
  args: "[TARGET]",
  options: {
    ...SET_OPTIONS,
    ...ONLINE_OPTIONS,
    ...JSON_OPTION,
    watch: { type: "boolean", help: "refresh until interrupted (online)" },
    interval: { type: "string", value: "SECONDS", help: "refresh interval of --watch", default: "2" },
  },
  details: `Without --spare, asks the running daemon (--api, default ${DEFAULT_API_ADDRESS}); with TARGET the JSON
is that target's status object, without it an array of every target's status.
With --spare, reads the set's metadata directly (the set must not be served) and prints one object.
examples:
  dmremap status --json
  dmremap status disk0 --watch
  dmremap status --spare /data/spare.img --json`,
  async run(ctx) {
    const json = boolOpt(ctx, "json");
    if (isOffline(ctx)) {
      const status = await withSetReadOnly(ctx, (_t, s) => s);
      ctx.out.write(json ? JSON.stringify(status, null, 2) + "\n" : renderStatus(status));
      return 0;
    }
    const client = apiClient(ctx);
    const name = ctx.positionals[0];
    const show = async () => {
      const statuses = await onlineStatus(client, name);
      if (json) ctx.out.write(JSON.stringify(name ? statuses[0] : statuses, null, 2) + "\n");
      else ctx.out.write(statuses.map(renderStatus).join("\n"));
    };
    if (!boolOpt(ctx, "watch")) {
      await show();
      return 0;
    }
    const seconds = parseIntArg("--interval", stringOpt(ctx, "interval") ?? "2", 1, 3600);
    let stopped = false;
    void ctx.stopSignal.then(() => (stopped = true));
    while (!stopped) {
      if (!json) ctx.out.write("\x1b[2J\x1b[H");
      await show();
      await Promise.race([ctx.stopSignal, new Promise((r) => setTimeout(r, seconds * 1000))]);
    }
    return 0;
  },
};

export const listCommand: Command = {
  name: "list",
  summary: "list remapped and pending blocks (daemon, or offline with --spare)",
  options: {
    ...SET_OPTIONS,
    ...ONLINE_OPTIONS,
    target: { type: "string", value: "NAME", help: "target of the daemon (default: its only target)" },
    ...JSON_OPTION,
    cursor: { type: "string", value: "BLOCK", help: "start listing at this block", default: "0" },
    limit: { type: "string", value: "N", help: "most entries to list", default: "all" },
  },
  async run(ctx) {
    const cursor = parseIntArg("--cursor", stringOpt(ctx, "cursor") ?? "0");
    const limitText = stringOpt(ctx, "limit");
    const limit = limitText === undefined ? Number.MAX_SAFE_INTEGER : parseIntArg("--limit", limitText, 1);
    let result: {
      entries: readonly RemapEntryView[];
      pending: readonly number[];
      nextCursor?: number | null;
    };
    if (isOffline(ctx)) {
      result = await withSetReadOnly(ctx, (target) => {
        const page = target.device.list({ cursor, limit });
        return { entries: page.entries, pending: pendingBlocks(target), nextCursor: page.nextCursor };
      });
    } else {
      const client = apiClient(ctx);
      const name = encodeURIComponent(await onlineTarget(client, stringOpt(ctx, "target")));
      const entries: RemapEntryView[] = [];
      let next: number | undefined = cursor;
      while (next !== undefined && entries.length < limit) {
        const page: RemapPage = await client.call(
          "GET",
          `/v1/targets/${name}/remaps?cursor=${next}&limit=${Math.min(10_000, limit - entries.length)}`,
        );
        entries.push(...page.entries);
        next = page.nextCursor;
      }
      const pending = await client.call<{ blocks?: number[] } | number[]>(
        "GET",
        `/v1/targets/${name}/pending`,
      );
      result = {
        entries,
        pending: Array.isArray(pending) ? pending : (pending.blocks ?? []),
        nextCursor: next ?? null,
      };
    }
    ctx.out.write(
      boolOpt(ctx, "json")
        ? JSON.stringify(result, null, 2) + "\n"
        : renderList(result.entries, result.pending),
    );
    return 0;
  },
};

export const checkCommand: Command = {
  name: "check",
  summary: "verify every metadata copy at both ends of every spare (like fsck); --repair rewrites bad ones",
  options: {
    spare: SET_OPTIONS.spare!,
    main: {
      type: "string",
      value: "DEV",
      help: "main device to compare with the recorded identity (default: the recorded spec)",
    },
    repair: {
      type: "boolean",
      help: "rewrite bad copies and lost ends from the newest valid state; upgrades a format 1 set",
    },
    ...JSON_OPTION,
  },
  details: `Each spare holds a complete copy at its head and at its tail; a wiped head or tail is found
from the other end and rewritten by --repair. A set of on-disk format version 1 is reported as
such and upgraded in place (crash-safe) by --repair, or by the first read-write open (serve).
The main device (opened read-only, when it can be opened) is compared with the identity recorded
in the set.
exit status: 0 all copies ok (or repaired), 1 problems found and not repaired, or the main is not
the recorded one`,
  async run(ctx) {
    const specs = stringsOpt(ctx, "spare");
    if (specs.length === 0) throw new UsageError("check needs the set's spares: --spare DEV");
    const repair = boolOpt(ctx, "repair");
    const mainSpec = stringOpt(ctx, "main");
    const { report, main } = await openStack(
      { name: "check", spares: specs, ...(mainSpec ? { main: mainSpec } : {}) },
      { mode: "check", repair },
    );
    if (boolOpt(ctx, "json")) {
      ctx.out.write(JSON.stringify({ ...report, main }, null, 2) + "\n");
    } else {
      ctx.out.write(
        `set "${report.identity.name}" (${report.identity.uuid}), format ${report.formatVersion}, generation ${report.generation}\n`,
      );
      for (const c of report.found) {
        ctx.out.write(
          `  ${c.device}: slot ${c.slot}, generation ${c.generation}, ${c.state}${c.detail ? ` (${c.detail})` : ""}\n`,
        );
      }
      for (const note of report.notes) ctx.out.write(`  note: ${note}\n`);
      ctx.out.write(`  main ${main.spec ?? "(unknown)"}: ${main.state} (${main.detail})\n`);
      ctx.out.write(
        report.clean
          ? "all copies ok\n"
          : report.repaired
            ? "problems found and repaired\n"
            : "problems found; run with --repair to fix them\n",
      );
    }
    if (main.state === "mismatch") return 1;
    return report.clean || report.repaired ? 0 : 1;
  },
};
