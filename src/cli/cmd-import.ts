// `dmremap import ddrescue|badblocks FILE`: take another tool's findings in: bad areas become pending
// blocks, ddrescue's non-trimmed / non-scraped areas become suspects. Online or offline, idempotent,
// with --dry-run.
import { readFile } from "node:fs/promises";
import { parseBlockList, rangesOfList } from "../formats/block-list.js";
import { findingsOfMapfile, parseMapfile, type Mapfile } from "../formats/ddrescue-mapfile.js";
import {
  describePlan,
  markAll,
  planImport,
  type ImportFindings,
  type ImportPlan,
} from "../formats/import-plan.js";
import { stateOfDevice } from "../formats/state-of-device.js";
import { addSuspects, readSuspects, stateDir, suspectsPath } from "../formats/suspects.js";
import type { TargetStatus } from "../daemon/target.js";
import { boolOpt, stringOpt, type Command, type CommandContext } from "./command.js";
import { bytesOpt, STATE_OPTIONS, unitOpt } from "./cmd-export.js";
import { UsageError } from "./errors.js";
import { JSON_OPTION, withSet, withSetReadOnly } from "./offline.js";
import { apiClient, isOffline, onlineTarget } from "./online.js";

const FORMATS = ["ddrescue", "badblocks"] as const;

/** A parsed input file (parsed before any device is opened, so syntax errors come first). */
type Parsed =
  | { readonly format: "ddrescue"; readonly mapfile: Mapfile }
  | { readonly format: "badblocks"; readonly numbers: number[] };

function parseInput(format: string, text: string, source: string): Parsed {
  return format === "ddrescue"
    ? { format, mapfile: parseMapfile(text, source) }
    : { format: "badblocks", numbers: parseBlockList(text, source) };
}

/** What the file says, placed on a main of `sizeBytes`. */
function findingsOf(ctx: CommandContext, parsed: Parsed, sizeBytes: number): ImportFindings {
  const placement = {
    offsetBytes: bytesOpt(ctx, "offset", 0),
    mainOffsetBytes: bytesOpt(ctx, "main-offset", 0),
  };
  if (parsed.format === "ddrescue") return findingsOfMapfile(parsed.mapfile, sizeBytes, placement);
  const unitBytes = unitOpt(ctx, "unit", 1024);
  const bad = rangesOfList(parsed.numbers, sizeBytes, { unitBytes, ...placement });
  const listed = parsed.numbers.length * unitBytes;
  return { bad, suspect: [], outsideBytes: Math.max(0, listed - bad.reduce((n, r) => n + r.lengthBytes, 0)) };
}

async function offlineImport(ctx: CommandContext, parsed: Parsed, dryRun: boolean): Promise<ImportPlan> {
  const open = dryRun ? withSetReadOnly : withSet;
  return open(ctx, async (target) => {
    const uuid = target.opened.store.identity.uuid;
    const file = suspectsPath(stateDir(stringOpt(ctx, "state-dir")), uuid);
    const state = stateOfDevice(target.device, await readSuspects(file));
    const plan = planImport(state, findingsOf(ctx, parsed, state.sizeBytes));
    if (dryRun) return plan;
    const marked = await markAll(plan.markPending, (block) => target.device.markPending(block));
    if (marked.failed) throw marked.failed.error;
    await addSuspects(file, uuid, state.blockSize, plan.addSuspects);
    return plan;
  });
}

async function onlineImport(ctx: CommandContext, parsed: Parsed, dryRun: boolean): Promise<ImportPlan> {
  const client = apiClient(ctx);
  const base = `/v1/targets/${encodeURIComponent(await onlineTarget(client, stringOpt(ctx, "target")))}`;
  const status = await client.call<TargetStatus>("GET", base);
  const findings = findingsOf(ctx, parsed, status.sizeBytes);
  const answer = await client.call<{ plan: ImportPlan }>("POST", `${base}/import`, { ...findings, dryRun });
  return answer.plan;
}

export const importCommand: Command = {
  name: "import",
  summary:
    "mark the bad areas of a ddrescue mapfile or a badblocks list pending (suspects from ddrescue * and /)",
  args: "ddrescue|badblocks FILE",
  options: {
    ...STATE_OPTIONS,
    ...JSON_OPTION,
    "dry-run": { type: "boolean", help: "print what would change, change nothing" },
    unit: {
      type: "string",
      value: "BYTES",
      help: "badblocks: bytes per listed block (badblocks -b)",
      default: "1024",
    },
    offset: {
      type: "string",
      value: "BYTES",
      help: "the file describes a device starting at this byte of main",
      default: "0",
    },
    "main-offset": {
      type: "string",
      value: "BYTES",
      help: "main starts at this byte of the device the file describes (whole-disk mapfile, main a partition)",
      default: "0",
    },
  },
  details: [
    "A block touched by a bad area (ddrescue -, a badblocks number) becomes pending: reads fail until it is",
    "written. Remapped blocks are left alone (their data is safe on a spare). ddrescue * and / areas become",
    "suspects (docs/FORMATS.md), to be scanned first. Importing the same file again changes nothing. FILE - reads stdin.",
    "  dmremap import ddrescue --main-offset 1M --dry-run sda.map      # mapfile of /dev/sda, main is /dev/sda1",
    "  dmremap import badblocks --unit 4096 --spare /dev/sdc1 bb.txt   # offline, the set not served",
  ].join("\n"),
  async run(ctx) {
    const [format, file, ...rest] = ctx.positionals;
    if (!format || !file || rest.length > 0)
      throw new UsageError(`give a format (${FORMATS.join(", ")}) and a FILE`);
    if (!(FORMATS as readonly string[]).includes(format))
      throw new UsageError(`unknown format "${format}" (one of ${FORMATS.join(", ")})`);
    if (format === "badblocks") unitOpt(ctx, "unit", 1024);
    bytesOpt(ctx, "offset", 0);
    bytesOpt(ctx, "main-offset", 0);
    const text = file === "-" ? await readStdin() : await readFile(file, "utf8");
    const dryRun = boolOpt(ctx, "dry-run");
    const parsed = parseInput(format, text, file === "-" ? "stdin" : file);
    const plan = isOffline(ctx)
      ? await offlineImport(ctx, parsed, dryRun)
      : await onlineImport(ctx, parsed, dryRun);
    if (boolOpt(ctx, "json")) ctx.out.write(JSON.stringify({ dryRun, plan }, null, 2) + "\n");
    else ctx.out.write(describePlan(plan, dryRun).join("\n") + "\n");
    return 0;
  },
};

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}
