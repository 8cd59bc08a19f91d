// The GNU ddrescue mapfile of a main replacement's copy (`replace-main --mapfile FILE`): `+` copied,
// `*` failed and waiting for the block-by-block retry, `/` pending blocks skipped, `-` unreadable,
// `?` not tried yet (from the cursor on).
import { rename, writeFile } from "node:fs/promises";
import { formatMapfile, type MapfileBlock, type MapfileBlockState } from "../formats/ddrescue-mapfile.js";
import type { ReplaceMapState } from "../spares/replace-main.js";
import type { ReplaceRecord } from "./replace-record.js";
import type { AssembledTarget } from "./stack.js";

/** Write the ddrescue mapfile of a copy state (atomically: temporary file, rename). */
export async function writeReplaceMapfile(
  file: string,
  state: ReplaceMapState,
  stack: AssembledTarget,
  record: ReplaceRecord,
): Promise<void> {
  const { blockSize, sizeBytes } = stack.device;
  const marks = new Map<number, MapfileBlockState>();
  for (const b of state.skippedPending) marks.set(b, "/");
  for (const b of state.retryBlocks) marks.set(b, "*");
  for (const b of state.unreadableBlocks) marks.set(b, "-");
  const blocks: MapfileBlock[] = [];
  const push = (posBytes: number, endBytes: number, s: MapfileBlockState) => {
    const end = Math.min(endBytes, sizeBytes);
    if (end <= posBytes) return;
    const last = blocks[blocks.length - 1];
    if (last && last.state === s && last.posBytes + last.sizeBytes === posBytes)
      blocks[blocks.length - 1] = { ...last, sizeBytes: end - last.posBytes };
    else blocks.push({ posBytes, sizeBytes: end - posBytes, state: s });
  };
  let at = 0;
  for (const b of [...marks.keys()].sort((x, y) => x - y)) {
    if (b >= state.cursorBlock) break;
    push(at, b * blockSize, "+");
    push(b * blockSize, (b + 1) * blockSize, marks.get(b)!);
    at = (b + 1) * blockSize;
  }
  push(at, state.cursorBlock * blockSize, "+");
  push(state.cursorBlock * blockSize, sizeBytes, "?");
  const phase = state.phase === "copying" ? "?" : state.phase === "retrying" ? "*" : "+";
  const text = formatMapfile(
    {
      currentPosBytes: Math.min(state.cursorBlock * blockSize, sizeBytes),
      currentPhase: phase,
      currentPass: 1,
      blocks,
    },
    [`dmremap replace-main of set "${stack.device.name}": ${record.oldSpec} -> ${record.newSpec}`],
  );
  await writeFile(`${file}.tmp`, text);
  await rename(`${file}.tmp`, file);
}
