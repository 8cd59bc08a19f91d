// Reads one metadata copy: its superblocks (head and tail), the checkpoint slot of each end (or of
// version 1's A/B pair) and the journal batches that follow the newest valid checkpoint
// (docs/FORMAT.md "Recovery").
import type { BlockDevice } from "../block/block-device.js";
import { readBytes } from "../block/base-device.js";
import type { JournalRecord } from "./metadata-store.js";
import { type CheckpointHeader, decodeCheckpointHeader } from "./checkpoint-codec.js";
import { decodeBatch } from "./journal-codec.js";
import {
  CHECKPOINT_HEADER_BYTES,
  type End,
  type EndGeometry,
  type MetadataLayout,
  SUPERBLOCK_BYTES,
  alignedEnd,
  journalOffset,
  slotOffset,
} from "./layout.js";
import { type Relocations, type SuperblockResult, decodeSuperblock } from "./superblock.js";
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
  return scanSuperblocksAt(device, "head");
}

/** Read and decode the two superblock copies of one end (the tail pair sits just below the end). */
export async function scanSuperblocksAt(
  device: BlockDevice,
  end: End,
  sizeBytes = device.sizeBytes,
): Promise<SuperblockScan | undefined> {
  if (device.sizeBytes < 4 * SUPERBLOCK_BYTES || sizeBytes > device.sizeBytes) return undefined;
  const at = end === "head" ? 0 : alignedEnd(sizeBytes) - 2 * SUPERBLOCK_BYTES;
  let raw: Awaited<ReturnType<typeof readBytes>>;
  try {
    raw = await readBytes(device, at, 2 * SUPERBLOCK_BYTES);
  } catch {
    // Unreadable sectors count as lost superblocks (the other end may still hold them).
    return undefined;
  }
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

/** Read the header sector of version 1 slot `slot`. */
export async function readSlotHeader(
  device: BlockDevice,
  layout: MetadataLayout,
  slot: 0 | 1,
  setUuid: Uint8Array | undefined,
): Promise<CheckpointHeader | string> {
  const sector = await readBytes(device, slotOffset(layout, slot), CHECKPOINT_HEADER_BYTES);
  return decodeCheckpointHeader(sector, setUuid);
}

/** Scan both slots and the journal of one version 1 copy (read for the upgrade). */
export async function scanCopyV1(
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

/** The newest valid state of one end of a version 2 copy. */
export interface EndScan {
  readonly end: End;
  /** Where the newest valid checkpoint of this end sits: its slot, its relocation area, or nowhere. */
  readonly place: "slot" | "reloc" | "none";
  /** Why each candidate place was not used ("blank" when never written). */
  readonly problems: { readonly slot?: string; readonly reloc?: string };
  readonly header?: CheckpointHeader;
  readonly body?: Uint8Array;
  readonly checkpointGeneration: number;
  readonly generation: number;
  readonly batches: JournalRecord[][];
  readonly writeOffset: number;
  readonly usedBytes: number;
  /** Relocation state recorded by the newest checkpoint of this end. */
  readonly relocations?: Relocations;
}

async function readQuietly(device: BlockDevice, at: number, length: number): Promise<Uint8Array | string> {
  try {
    return await readBytes(device, at, length);
  } catch (err) {
    return `unreadable (${err instanceof Error ? err.message : String(err)})`;
  }
}

/** Read a journal ring; unreadable sectors read as zeroes (replay stops there, as at a torn batch). */
async function readRing(device: BlockDevice, at: number, length: number): Promise<Uint8Array> {
  const whole = await readQuietly(device, at, length);
  if (typeof whole !== "string") return whole;
  const ring = new Uint8Array(length);
  for (let o = 0; o < length; o += 512) {
    const sector = await readQuietly(device, at + o, 512);
    if (typeof sector !== "string") ring.set(sector, o);
  }
  return ring;
}

/** Read one candidate checkpoint place of `end`; a string says why it is not usable. */
async function readCandidate(
  device: BlockDevice,
  layout: MetadataLayout,
  at: number,
  end: End,
  setUuid: Uint8Array,
): Promise<{ header: CheckpointHeader; body: Uint8Array } | string> {
  const sector = await readQuietly(device, at, CHECKPOINT_HEADER_BYTES);
  if (typeof sector === "string") return sector;
  const h = decodeCheckpointHeader(sector, setUuid);
  if (typeof h === "string") return h;
  if (h.format !== 2) return "format 1 checkpoint";
  if (h.end !== end) return `checkpoint of the ${h.end} end`;
  if (CHECKPOINT_HEADER_BYTES + h.bodyBytes > layout.checkpointSlotBytes) return "body larger than the slot";
  if (h.journalStartOffset > layout.journalBytes || h.journalStartOffset % 512 !== 0)
    return "journal start outside the ring";
  const body = await readQuietly(device, at + CHECKPOINT_HEADER_BYTES, h.bodyBytes);
  if (typeof body === "string") return body;
  if (crc32c(body) !== h.bodyCrc) return "body checksum mismatch";
  return { header: h, body };
}

/** Scan one end of a version 2 copy: its slot, its relocation area and the journal that follows. */
export async function scanEnd(
  device: BlockDevice,
  layout: MetadataLayout,
  g: EndGeometry,
  setUuid: Uint8Array,
): Promise<EndScan> {
  const fits = (at: number, bytes: number) => at >= 0 && at + bytes <= device.sizeBytes;
  const slot = fits(g.slot, layout.checkpointSlotBytes)
    ? await readCandidate(device, layout, g.slot, g.end, setUuid)
    : "outside the device";
  const reloc =
    g.relocBytes >= layout.checkpointSlotBytes && fits(g.reloc, g.relocBytes)
      ? await readCandidate(device, layout, g.reloc, g.end, setUuid)
      : "blank";
  const problems = {
    ...(typeof slot === "string" ? { slot } : {}),
    ...(typeof reloc === "string" ? { reloc } : {}),
  };
  let best: { header: CheckpointHeader; body: Uint8Array } | undefined;
  let place: EndScan["place"] = "none";
  if (typeof slot !== "string") {
    best = slot;
    place = "slot";
  }
  if (typeof reloc !== "string" && (!best || reloc.header.generation > best.header.generation)) {
    best = reloc;
    place = "reloc";
  }
  const empty = { batches: [], writeOffset: 0, usedBytes: 0, checkpointGeneration: 0, generation: 0 };
  if (!best) return { end: g.end, place, problems, ...empty };
  const h = best.header;
  const ringAt = h.relocations[g.end] === "journal" ? g.reloc : g.journal;
  const ring = fits(ringAt, layout.journalBytes)
    ? await readRing(device, ringAt, layout.journalBytes)
    : "outside the device";
  const replay =
    typeof ring === "string"
      ? { generation: h.generation, batches: [], writeOffset: h.journalStartOffset, usedBytes: 0 }
      : replayRing(ring, h, setUuid);
  return {
    end: g.end,
    place,
    problems,
    header: h,
    body: best.body,
    checkpointGeneration: h.generation,
    relocations: h.relocations,
    ...replay,
  };
}
