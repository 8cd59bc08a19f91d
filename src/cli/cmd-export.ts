// `dmremap export ddrescue|badblocks|e2fsck|dm-table`: the set's state in the field's formats, from the
// running daemon or offline (--spare). Also holds the state loading shared by import and affected.
import { writeFile } from "node:fs/promises";
import { parseSize } from "../block/size.js";
import { formatBlockList, listFromState } from "../formats/block-list.js";
import { formatMapfile, mapfileFromState } from "../formats/ddrescue-mapfile.js";
import { dmTableFromState, formatDmTable } from "../formats/dm-table.js";
import type { ByteRange, RemappedBlock, RemapState } from "../formats/remap-state.js";
import { stateOfDevice } from "../formats/state-of-device.js";
import { readSuspects, stateDir, suspectsPath } from "../formats/suspects.js";
import type { RemapPage, TargetStatus } from "../daemon/target.js";
import {
  boolOpt,
  stringOpt,
  stringsOpt,
  type Command,
  type CommandContext,
  type OptionSpec,
} from "./command.js";
import { ApiProblemError, UsageError } from "./errors.js";
import { SET_OPTIONS, withSetReadOnly } from "./offline.js";
import type { ApiClient } from "./api-client.js";
import { apiClient, isOffline, ONLINE_OPTIONS, onlineTarget } from "./online.js";

/** Where the state comes from: the daemon (--api, --target) or the set's devices (--spare). */
export const STATE_OPTIONS: Record<string, OptionSpec> = {
  ...SET_OPTIONS,
  ...ONLINE_OPTIONS,
  target: { type: "string", value: "NAME", help: "target of the daemon (default: its only target)" },
  "state-dir": {
    type: "string",
    value: "DIR",
    help: "offline: directory of the set's suspects file (env DMREMAP_STATE_DIR)",
    default: "/var/lib/dmremap",
  },
};

/** A byte count option (4096, 64K, 1M ...), or `fallback` when absent. */
export function bytesOpt(ctx: Pick<CommandContext, "values">, name: string, fallback: number): number {
  const text = stringOpt(ctx, name);
  if (text === undefined) return fallback;
  try {
    return parseSize(text);
  } catch (err) {
    throw new UsageError(`--${name}: ${(err as Error).message}`);
  }
}

/** A unit option: a power of two from 512 to 1 MiB. */
export function unitOpt(ctx: Pick<CommandContext, "values">, name: string, fallback?: number): number {
  const unit = bytesOpt(ctx, name, fallback ?? -1);
  if (unit === -1) throw new UsageError(`give --${name} BYTES`);
  if (unit < 512 || unit > 1 << 20 || (unit & (unit - 1)) !== 0) {
    throw new UsageError(`--${name} ${unit} is not a power of two from 512 to 1048576`);
  }
  return unit;
}

/** The set's state and uuid, read offline (read-only) or from the daemon. */
export async function loadState(
  ctx: CommandContext,
): Promise<{ state: RemapState; uuid: string; name: string }> {
  if (isOffline(ctx)) {
    return withSetReadOnly(ctx, async (target, status) => {
      const uuid = target.opened.store.identity.uuid;
      const suspects = await readSuspects(suspectsPath(stateDir(stringOpt(ctx, "state-dir")), uuid));
      return { state: stateOfDevice(target.device, suspects), uuid, name: status.name };
    });
  }
  const client = apiClient(ctx);
  const name = await onlineTarget(client, stringOpt(ctx, "target"));
  const base = `/v1/targets/${encodeURIComponent(name)}`;
  const status = await client.call<TargetStatus>("GET", base);
  const remapped: RemappedBlock[] = [];
  let cursor: number | undefined = 0;
  while (cursor !== undefined) {
    const page: RemapPage = await client.call<RemapPage>(
      "GET",
      `${base}/remaps?cursor=${cursor}&limit=10000`,
    );
    for (const e of page.entries) {
      remapped.push({
        block: e.block,
        spare: e.spare,
        spareOffsetBytes: e.spareOffsetBytes ?? -1,
        lostSectors: e.lostSectors,
      });
    }
    cursor = page.nextCursor;
  }
  const pending = (await client.call<{ blocks: number[] }>("GET", `${base}/pending`)).blocks;
  const suspects = (await client.call<{ blocks: number[] }>("GET", `${base}/suspects`)).blocks;
  const unread = await unreadOnline(client, base, status.sizeBytes);
  const state = {
    blockSize: status.blockSize,
    sizeBytes: status.sizeBytes,
    remapped,
    pending,
    suspects,
    ...(unread ? { unread } : {}),
  };
  return { state, uuid: status.uuid, name };
}

/**
 * Areas of main never read, from the daemon's scanner: none once a pass has completed, all of main
 * before that (remapped blocks excepted by the mapfile); undefined when the target has no scanner.
 */
async function unreadOnline(
  client: ApiClient,
  base: string,
  sizeBytes: number,
): Promise<ByteRange[] | undefined> {
  try {
    const scan = await client.call<{ history?: { result?: string }[] }>("GET", `${base}/scan`);
    return scan.history?.some((p) => p.result === "complete")
      ? []
      : [{ startBytes: 0, lengthBytes: sizeBytes }];
  } catch (err) {
    if (err instanceof ApiProblemError && err.status === 404) return undefined;
    throw err;
  }
}

const FORMATS = ["ddrescue", "badblocks", "e2fsck", "dm-table"] as const;

/** Render the state in `format` with the command's options. */
export function renderExport(
  ctx: Pick<CommandContext, "values">,
  format: string,
  state: RemapState,
  name: string,
): string {
  const offsetBytes = bytesOpt(ctx, "offset", 0);
  const includeRemapped = boolOpt(ctx, "include-remapped");
  switch (format) {
    case "ddrescue":
      return formatMapfile(
        mapfileFromState(state, { offsetBytes, mainOffsetBytes: bytesOpt(ctx, "main-offset", 0) }),
        [
          `Mapfile. Created by dmremap export ddrescue (set ${name}, block size ${state.blockSize})`,
          "Bad (-): pending blocks and lost sectors; * suspects; + readable (remapped blocks included)",
          state.unread
            ? "? never read: the scanner has not completed a pass over it"
            : "No scanner information (offline or no scanner): every area not known bad is +",
        ],
      );
    case "badblocks":
      return formatBlockList(
        listFromState(state, { unitBytes: unitOpt(ctx, "unit", 1024), offsetBytes }, { includeRemapped }),
      );
    case "e2fsck":
      return formatBlockList(
        listFromState(state, { unitBytes: unitOpt(ctx, "fs-block-size"), offsetBytes }, { includeRemapped }),
      );
    case "dm-table": {
      const mainPath = stringOpt(ctx, "main-path");
      const sparePaths = stringsOpt(ctx, "spare-path");
      if (!mainPath || sparePaths.length === 0)
        throw new UsageError("dm-table needs --main-path P and one --spare-path P per spare, in spare order");
      if (state.remapped.some((r) => r.spareOffsetBytes < 0))
        throw new UsageError(
          "the daemon does not report spare offsets: export the dm table offline (--spare)",
        );
      try {
        return formatDmTable(dmTableFromState(state, { mainPath, sparePaths }));
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
    }
    default:
      throw new UsageError(`unknown format "${format}" (one of ${FORMATS.join(", ")})`);
  }
}

export const exportCommand: Command = {
  name: "export",
  summary: "write the set's bad blocks in ddrescue, badblocks, e2fsck or device-mapper table form",
  args: "ddrescue|badblocks|e2fsck|dm-table",
  options: {
    ...STATE_OPTIONS,
    output: { type: "string", short: "o", value: "FILE", help: "write to FILE instead of standard output" },
    unit: {
      type: "string",
      value: "BYTES",
      help: "badblocks: bytes per listed block (badblocks -b)",
      default: "1024",
    },
    "fs-block-size": {
      type: "string",
      value: "BYTES",
      help: "e2fsck: the filesystem's block size (dumpe2fs -h)",
    },
    offset: {
      type: "string",
      value: "BYTES",
      help: "the listed device (partition, filesystem) starts at this byte of main",
      default: "0",
    },
    "main-offset": {
      type: "string",
      value: "BYTES",
      help: "ddrescue: main starts at this byte of the disk the mapfile describes",
      default: "0",
    },
    "include-remapped": {
      type: "boolean",
      help: "badblocks/e2fsck: also list remapped blocks (bad on main; for using main without dmremap)",
    },
    "main-path": { type: "string", value: "PATH", help: "dm-table: the main device as the kernel names it" },
    "spare-path": {
      type: "string",
      multiple: true,
      value: "PATH",
      help: "dm-table: each spare device, in spare order",
    },
  },
  details: [
    "ddrescue: - for pending blocks and lost sectors, * for suspects, + elsewhere (remapped data is safe).",
    "badblocks / e2fsck: every unit touching a pending block or lost sector, e.g.",
    "  dmremap export e2fsck --fs-block-size 4096 --offset 1M -o bad.txt && e2fsck -l bad.txt /dev/nbd0p1",
    "dm-table: only while the set is not served (offline, --spare): see docs/FORMATS.md for what is lost.",
    "  dmremap export dm-table --spare /dev/sdc1 --main-path /dev/sdb --spare-path /dev/sdc1 | dmsetup create disk0",
  ].join("\n"),
  async run(ctx) {
    const format = ctx.positionals[0];
    if (!format || ctx.positionals.length > 1) throw new UsageError(`give one format: ${FORMATS.join(", ")}`);
    if (!(FORMATS as readonly string[]).includes(format))
      throw new UsageError(`unknown format "${format}" (one of ${FORMATS.join(", ")})`);
    // Check the flags on an empty state before opening any device.
    renderExport(ctx, format, { blockSize: 512, sizeBytes: 0, remapped: [], pending: [], suspects: [] }, "");
    const { state, name } = await loadState(ctx);
    const text = renderExport(ctx, format, state, name);
    const output = stringOpt(ctx, "output");
    if (output) await writeFile(output, text);
    else ctx.out.write(text);
    return 0;
  },
};
