// Reads one metadata copy: its superblocks, both checkpoint slots and the journal batches that
// follow its newest valid checkpoint (docs/FORMAT.md "Recovery").
import type { BlockDevice } from "../block/block-device.js";
import { readBytes } from "../block/base-device.js";
import type { JournalRecord } from "./metadata-store.js";
import { type CheckpointHeader, decodeCheckpointHeader } from "./checkpoint-codec.js";
import { decodeBatch } from "./journal-codec.js";
import {
  CHECKPOINT_HEADER_BYTES,
  type MetadataLayout,
  SUPERBLOCK_BYTES,
  journalOffset,
  slotOffset,
} from "./layout.js";
import { type SuperblockResult, decodeSuperblock } from "./superblock.js";
import { crc32c } from "./crc32c.js";

/** Both superblock copies of a device. */
export interface SuperblockScan {
  readonly copies: [SuperblockResult, SuperblockResult];
  /** Both copies valid and byte-identical. */
  readonly intact: boolean;
  /** The bytes of both copies (to detect "holds dmremap metadata"). */
  readonly raw: Uint8Array;
}

/** Read and decode the two superblock copies at the start of `device`. */
export async function scanSuperblocks(device: BlockDevice): Promise<SuperblockScan | undefined> {
  if (device.sizeBytes < 2 * SUPERBLOCK_BYTES) return undefined;
  const raw = await readBytes(device, 0, 2 * SUPERBLOCK_BYTES);
  const a = decodeSuperblock(raw.subarray(0, SUPERBLOCK_BYTES));
  const b = decodeSuperblock(raw.subarray(SUPERBLOCK_BYTES));
  const intact = a.ok && b.ok && raw.subarray(0, SUPERBLOCK_BYTES).equals(raw.subarray(SUPERBLOCK_BYTES));
  return { copies: [a, b], intact, raw };
}

/** What one checkpoint slot holds. */
export interface SlotScan {
  readonly header?: CheckpointHeader;
  /** Body bytes, only for the slot chosen as this copy's newest valid state. */
  body?: Uint8Array;
  /** Why the slot is not usable ("blank" when never written). */
  problem?: string;
}

/** The newest valid state of one copy. */
export interface CopyScan {
  readonly slots: [SlotScan, SlotScan];
  /** Slot holding the newest valid checkpoint, -1 when none. */
  readonly active: 0 | 1 | -1;
  readonly checkpointGeneration: number;
  /** Generation after replaying the journal (= checkpointGeneration when no batch follows). */
  readonly generation: number;
  readonly batches: JournalRecord[][];
  /** Ring offset where the next batch goes, and ring bytes in use since the checkpoint. */
  readonly writeOffset: number;
  readonly usedBytes: number;
}

/** Read the header sector of slot `slot`. */
export async function readSlotHeader(
  device: BlockDevice,
  layout: MetadataLayout,
  slot: 0 | 1,
  setUuid: Uint8Array | undefined,
): Promise<CheckpointHeader | string> {
  const sector = await readBytes(device, slotOffset(layout, slot), CHECKPOINT_HEADER_BYTES);
  return decodeCheckpointHeader(sector, setUuid);
}

/** Scan both slots and the journal of one copy. */
export async function scanCopy(
  device: BlockDevice,
  layout: MetadataLayout,
  setUuid: Uint8Array,
): Promise<CopyScan> {
  const slots: [SlotScan, SlotScan] = [{}, {}];
  for (const s of [0, 1] as const) {
    const h = await readSlotHeader(device, layout, s, setUuid);
    if (typeof h === "string") slots[s].problem = h;
    else if (CHECKPOINT_HEADER_BYTES + h.bodyBytes > layout.checkpointSlotBytes)
      slots[s].problem = "body larger than the slot";
    else if (h.journalStartOffset > layout.journalBytes || h.journalStartOffset % 512 !== 0)
      slots[s].problem = "journal start outside the ring";
    else slots[s] = { header: h };
  }
  // Both bodies are verified (the older one is the fallback if the newer is ever lost).
  let active: 0 | 1 | -1 = -1;
  for (const s of [0, 1] as const) {
    const h = slots[s].header;
    if (!h) continue;
    const body = await readBytes(device, slotOffset(layout, s) + CHECKPOINT_HEADER_BYTES, h.bodyBytes);
    if (crc32c(body) !== h.bodyCrc) {
      slots[s].problem = "body checksum mismatch";
      continue;
    }
    const previous = active < 0 ? undefined : slots[active as 0 | 1];
    if (!previous || h.generation > previous.header!.generation) {
      if (previous) delete previous.body;
      slots[s].body = body;
      active = s;
    }
  }
  if (active < 0) {
    return {
      slots,
      active,
      checkpointGeneration: 0,
      generation: 0,
      batches: [],
      writeOffset: 0,
      usedBytes: 0,
    };
  }
  const h = slots[active as 0 | 1].header!;
  const ring = await readBytes(device, journalOffset(layout), layout.journalBytes);
  return { slots, active, checkpointGeneration: h.generation, ...replayRing(ring, h, setUuid) };
}

/** Follow the batches after checkpoint `h`: each must carry the next generation and `h`'s generation. */
export function replayRing(
  ring: Uint8Array,
  h: Pick<CheckpointHeader, "generation" | "journalStartOffset">,
  setUuid: Uint8Array,
): { generation: number; batches: JournalRecord[][]; writeOffset: number; usedBytes: number } {
  const batches: JournalRecord[][] = [];
  let at = h.journalStartOffset;
  let generation = h.generation;
  let used = 0;
  const accept = (pos: number) => {
    const d = decodeBatch(ring, pos, setUuid);
    return d && d.header.generation === generation + 1 && d.header.checkpointGeneration === h.generation
      ? d
      : undefined;
  };
  while (at <= ring.length) {
    let d = accept(at);
    if (!d && at !== 0) {
      d = accept(0);
      if (d) {
        used += ring.length - at;
        at = 0;
      }
    }
    if (!d || used + d.header.batchBytes > ring.length) break;
    batches.push(d.records);
    used += d.header.batchBytes;
    at += d.header.batchBytes;
    generation++;
  }
  return { generation, batches, writeOffset: at, usedBytes: used };
}
