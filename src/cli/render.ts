// Human renderings of status and listings: compact tables in the spirit of `mdadm --detail`.
import type { RemapEntryView, TargetStatus } from "../daemon/target.js";

function bytesText(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(2)} ${units[i]}`;
}

function percent(part: number, whole: number): string {
  return whole === 0 ? "0%" : `${((100 * part) / whole).toFixed(1)}%`;
}

/** Risk tier and scan progress rows, when the daemon runs the health services (docs/HEALTH.md). */
function healthRows(s: TargetStatus): [string, string][] {
  const h = s.health as
    | {
        reason?: string;
        scan?: {
          state: string;
          pass: number;
          scannedBlocks: number;
          totalBlocks: number;
          errorsFound: number;
        };
      }
    | undefined;
  const rows: [string, string][] = [];
  if (h?.reason) rows.push(["risk", h.reason]);
  if (h?.scan) {
    const c = h.scan;
    rows.push([
      "scan",
      `${c.state}, pass ${c.pass}, ${percent(c.scannedBlocks, c.totalBlocks)} of the pass, ${c.errorsFound} bad blocks found`,
    ]);
  }
  return rows;
}

/** Mirrored sets: copies of the remapped blocks (none for other sets). */
function mirrorRows(s: TargetStatus): [string, string][] {
  const m = (s as { mirror?: { mirroredBlocks: number; singleCopyBlocks: number; healthySpares: number } })
    .mirror;
  if (!m) return [];
  const single = m.singleCopyBlocks > 0 ? `, ${m.singleCopyBlocks} with one copy (run spare rebuild)` : "";
  return [
    ["mirror", `2 copies: ${m.mirroredBlocks} blocks mirrored${single}, ${m.healthySpares} healthy spares`],
  ];
}

/** Multi-line human status of one target. */
export function renderStatus(s: TargetStatus): string {
  const spare = s.spare;
  const copies = s.metadata.copies;
  const rows: [string, string][] = [
    ["name", `${s.name}  (uuid ${s.uuid})`],
    ["state", s.reason ? `${s.state} (${s.reason})` : s.state],
    ["size", `${bytesText(s.sizeBytes)} (${s.sizeBytes} bytes), block size ${s.blockSize}`],
    ["remapped", `${s.remappedBlocks} blocks`],
    ["pending", `${s.pendingBlocks} blocks`],
    ["lost sectors", String(s.lostSectors)],
    ...healthRows(s),
    ...((s.missingSpares?.length ?? 0) > 0
      ? ([
          [
            "missing spares",
            s
              .missingSpares!.map(
                (m) => `spare ${m.index}${m.lastKnownDevice ? ` (${m.lastKnownDevice})` : ""}`,
              )
              .join(", ") + `; ${s.unavailableBlocks ?? 0} blocks unavailable`,
          ],
        ] as [string, string][])
      : []),
    ...mirrorRows(s),
    [
      "spare slots",
      `${spare.usedBlocks} used / ${spare.totalBlocks} total (${percent(spare.usedBlocks, spare.totalBlocks)})` +
        (spare.nearlyExhausted ? "  ** NEARLY EXHAUSTED **" : ""),
    ],
    [
      "errors",
      Object.entries(s.errors)
        .map(([k, v]) => `${k} ${v}`)
        .join(", "),
    ],
    [
      "remaps",
      Object.entries(s.remaps)
        .map(([k, v]) => `${k} ${v}`)
        .join(", "),
    ],
    [
      "io",
      `${s.io.reads} reads (${bytesText(s.io.bytesRead)}), ${s.io.writes} writes (${bytesText(s.io.bytesWritten)})`,
    ],
    [
      "metadata",
      `generation ${s.metadata.generation}, ${copies.length} cop${copies.length === 1 ? "y" : "ies"}`,
    ],
  ];
  const width = Math.max(...rows.map(([k]) => k.length)) + 2;
  const lines = rows.map(([k, v]) => `${(k + ":").padEnd(width)} ${v}`);
  lines.push("", "  copy  device                                    slot  state");
  copies.forEach((c, i) => {
    const detail = (c as { detail?: string }).detail;
    lines.push(
      `  ${String(i).padEnd(4)}  ${c.device.padEnd(40)}  ${c.slot.padEnd(4)}  ${c.state}${detail ? ` (${detail})` : ""}`,
    );
  });
  return lines.join("\n") + "\n";
}

/** Table of remapped blocks. */
export function renderList(entries: readonly RemapEntryView[], pending: readonly number[]): string {
  const lines = ["    block        slot  spare  lost sectors"];
  for (const e of entries) {
    lines.push(
      `${String(e.block).padStart(9)}  ${String(e.slot).padStart(10)}  ${String(e.spare).padStart(5)}  ${e.lostSectors.length ? e.lostSectors.join(",") : "-"}`,
    );
  }
  lines.push(`${entries.length} remapped block(s)`);
  lines.push(pending.length ? `pending: ${pending.join(", ")}` : "pending: none");
  return lines.join("\n") + "\n";
}
