// Checkpoint codec: one slot = a 512-byte header + a body holding the whole table and the main
// identity record (docs/FORMAT.md "Checkpoint slot"). Bulk encode with DataView, no per-entry objects.
import type { TableSnapshot } from "./metadata-store.js";
import { crc32c } from "./crc32c.js";
import {
  CHECKPOINT_HEADER_BYTES,
  type End,
  type MetadataLayout,
  getU64,
  hasMagic,
  maskBytesFor,
  putMagic,
  setU64,
  viewOf,
} from "./layout.js";
import { MetadataCapacityError } from "./errors.js";
import { type Relocations, relocationCode, relocationOf } from "./superblock.js";

/** First 8 bytes of every checkpoint header. */
export const CHECKPOINT_MAGIC = "DMRMCKPT";
const HEADER_CRC_AT = CHECKPOINT_HEADER_BYTES - 4;

/** Fields of a checkpoint header. */
export interface CheckpointHeader {
  readonly generation: number;
  readonly spareIndex: number;
  readonly entryCount: number;
  readonly pendingCount: number;
  readonly lostCount: number;
  readonly maskBytes: number;
  readonly counterBytes: number;
  readonly bodyBytes: number;
  /** Ring offset where the batches following this checkpoint start. */
  readonly journalStartOffset: number;
  readonly bodyCrc: number;
  /** Version 2 fields (a version 1 header reads as format 1, head, nothing relocated). */
  readonly format: 1 | 2;
  readonly end: End;
  /** Relocation state of both ends of the spare when this checkpoint was written. */
  readonly relocations: Relocations;
  /** Bytes of the main identity record after the counters (0: none). */
  readonly identityBytes: number;
  /** Mirrored sets: second copies recorded at the end of the body (0 in older checkpoints). */
  readonly mirrorCount: number;
}

/** Where a slot image is written and what it records about its spare (version 2 header fields). */
export interface SlotPlace {
  readonly spareIndex: number;
  readonly end: End;
  readonly relocations: Relocations;
}

/** An encoded body plus the counts its header needs. */
export interface EncodedBody {
  readonly bytes: Uint8Array;
  readonly entryCount: number;
  readonly pendingCount: number;
  readonly lostCount: number;
  readonly maskBytes: number;
  readonly counterBytes: number;
  readonly identityBytes: number;
  readonly mirrorCount: number;
  readonly crc: number;
}

/** Most bytes of the main identity record; counters and the record share the counter space. */
export const IDENTITY_MAX_BYTES = 2048;

/** Encode the body of a checkpoint; throws MetadataCapacityError when the table outgrew the slot. */
export function encodeBody(
  snapshot: TableSnapshot,
  layout: MetadataLayout,
  identity: Uint8Array = new Uint8Array(0),
): EncodedBody {
  const n = snapshot.blocks.length;
  const m = snapshot.pending.length;
  const k = snapshot.lost.size;
  const maskBytes = maskBytesFor(layout.blockSize);
  if (n > layout.maxEntries)
    throw new MetadataCapacityError(`${n} remapped blocks exceed the capacity of ${layout.maxEntries}`);
  if (m > layout.pendingCapacity)
    throw new MetadataCapacityError(`${m} pending blocks exceed the capacity of ${layout.pendingCapacity}`);
  if (k > layout.maxEntries)
    throw new MetadataCapacityError(`${k} lost-sector entries exceed the capacity of ${layout.maxEntries}`);
  const counters = Object.entries(snapshot.counters).map(
    ([name, value]) => [Buffer.from(name, "utf8"), value] as const,
  );
  let counterBytes = 0;
  for (const [name] of counters) {
    if (name.length > 255)
      throw new MetadataCapacityError(`counter name "${name.toString()}" is longer than 255 bytes`);
    counterBytes += 1 + name.length + 8;
  }
  if (identity.length > IDENTITY_MAX_BYTES)
    throw new MetadataCapacityError(
      `main identity record of ${identity.length} bytes exceeds ${IDENTITY_MAX_BYTES} bytes`,
    );
  if (counterBytes + identity.length > layout.counterBytes)
    throw new MetadataCapacityError(
      `counters need ${counterBytes} bytes and the main identity ${identity.length}, ${layout.counterBytes} are reserved`,
    );
  const mirrors = snapshot.mirrors ?? { blocks: new Float64Array(0), slots: new Uint32Array(0) };
  const mc = mirrors.blocks.length;
  if (mc > n) throw new MetadataCapacityError(`${mc} second copies exceed the ${n} remapped blocks`);
  const bytes = new Uint8Array(
    n * 12 + m * 8 + k * (8 + maskBytes) + counterBytes + identity.length + mc * 12,
  );
  const v = viewOf(bytes);
  let at = 0;
  const { blocks, slots, pending } = snapshot;
  for (let i = 0; i < n; i++, at += 8) setU64(v, at, blocks[i]!);
  for (let i = 0; i < n; i++, at += 4) v.setUint32(at, slots[i]!, true);
  for (let i = 0; i < m; i++, at += 8) setU64(v, at, pending[i]!);
  const lostBlocks = [...snapshot.lost.keys()].sort((a, b) => a - b);
  for (const b of lostBlocks) {
    setU64(v, at, b);
    at += 8;
  }
  for (const b of lostBlocks) {
    bytes.set(snapshot.lost.get(b)!.subarray(0, maskBytes), at);
    at += maskBytes;
  }
  for (const [name, value] of counters) {
    bytes[at] = name.length;
    bytes.set(name, at + 1);
    v.setFloat64(at + 1 + name.length, value, true);
    at += 1 + name.length + 8;
  }
  bytes.set(identity, at);
  at += identity.length;
  for (let i = 0; i < mc; i++, at += 8) setU64(v, at, mirrors.blocks[i]!);
  for (let i = 0; i < mc; i++, at += 4) v.setUint32(at, mirrors.slots[i]!, true);
  return {
    bytes,
    entryCount: n,
    pendingCount: m,
    lostCount: k,
    maskBytes,
    counterBytes,
    identityBytes: identity.length,
    mirrorCount: mc,
    crc: crc32c(bytes),
  };
}

/** Encode a whole slot image (header sector + body) for one end of one copy (version 2 header). */
export function encodeSlot(
  body: EncodedBody,
  setUuid: Uint8Array,
  generation: number,
  place: SlotPlace,
  journalStartOffset: number,
): Uint8Array {
  const { spareIndex } = place;
  const out = new Uint8Array(CHECKPOINT_HEADER_BYTES + body.bytes.length);
  const v = viewOf(out);
  putMagic(out, 0, CHECKPOINT_MAGIC);
  setU64(v, 8, generation);
  out.set(setUuid, 16);
  v.setUint32(32, spareIndex, true);
  v.setUint32(36, body.entryCount, true);
  v.setUint32(40, body.pendingCount, true);
  v.setUint32(44, body.lostCount, true);
  v.setUint32(48, body.maskBytes, true);
  v.setUint32(52, body.counterBytes, true);
  setU64(v, 56, body.bytes.length);
  setU64(v, 64, journalStartOffset);
  v.setUint32(72, body.crc, true);
  out[76] = place.end === "head" ? 0 : 1;
  out[77] = relocationCode(place.relocations.head);
  out[78] = relocationCode(place.relocations.tail);
  out[79] = 2;
  v.setUint32(80, body.identityBytes, true);
  v.setUint32(84, body.mirrorCount, true);
  v.setUint32(HEADER_CRC_AT, crc32c(out, 0, HEADER_CRC_AT), true);
  out.set(body.bytes, CHECKPOINT_HEADER_BYTES);
  return out;
}

/** Decode a header sector; a string says why it is invalid ("blank" for all zeroes). */
export function decodeCheckpointHeader(
  sector: Uint8Array,
  setUuid: Uint8Array | undefined,
): CheckpointHeader | string {
  if (!hasMagic(sector, 0, CHECKPOINT_MAGIC))
    return sector.every((b) => b === 0) ? "blank" : "no checkpoint magic";
  const v = viewOf(sector);
  if (v.getUint32(HEADER_CRC_AT, true) !== crc32c(sector, 0, HEADER_CRC_AT))
    return "header checksum mismatch";
  if (setUuid && !setUuid.every((b, i) => sector[16 + i] === b)) return "checkpoint of another set";
  const h: CheckpointHeader = {
    generation: getU64(v, 8),
    spareIndex: v.getUint32(32, true),
    entryCount: v.getUint32(36, true),
    pendingCount: v.getUint32(40, true),
    lostCount: v.getUint32(44, true),
    maskBytes: v.getUint32(48, true),
    counterBytes: v.getUint32(52, true),
    bodyBytes: getU64(v, 56),
    journalStartOffset: getU64(v, 64),
    bodyCrc: v.getUint32(72, true),
    format: sector[79] === 2 ? 2 : 1,
    end: sector[76] === 1 ? "tail" : "head",
    relocations: { head: relocationOf(sector[77]!) ?? "none", tail: relocationOf(sector[78]!) ?? "none" },
    identityBytes: v.getUint32(80, true),
    mirrorCount: v.getUint32(84, true),
  };
  const expected =
    h.entryCount * 12 +
    h.pendingCount * 8 +
    h.lostCount * (8 + h.maskBytes) +
    h.counterBytes +
    h.identityBytes +
    h.mirrorCount * 12;
  const known =
    sector[79]! <= 2 && sector[76]! <= 1 && relocationOf(sector[77]!) && relocationOf(sector[78]!);
  if (!Number.isSafeInteger(h.generation) || h.bodyBytes !== expected || !known)
    return "inconsistent checkpoint header";
  return h;
}

/** Set UUID bytes recorded in a checkpoint header sector. */
export function checkpointSetUuid(sector: Uint8Array): Uint8Array {
  return sector.subarray(16, 32);
}

/** Decode and validate a body; a string says why it is invalid. */
export function decodeBody(h: CheckpointHeader, body: Uint8Array): TableSnapshot | string {
  const decoded = decodeBodyWithIdentity(h, body);
  return typeof decoded === "string" ? decoded : decoded.snapshot;
}

/** Decode a body and return the raw main identity record with the table. */
export function decodeBodyWithIdentity(
  h: CheckpointHeader,
  body: Uint8Array,
): { snapshot: TableSnapshot; identity: Uint8Array } | string {
  if (body.length !== h.bodyBytes || crc32c(body) !== h.bodyCrc) return "body checksum mismatch";
  const v = viewOf(body);
  const n = h.entryCount;
  const blocks = new Float64Array(n);
  const slots = new Uint32Array(n);
  let at = 0;
  let prev = -1;
  for (let i = 0; i < n; i++, at += 8) {
    const b = getU64(v, at);
    if (!(b > prev)) return "remapped blocks out of order";
    blocks[i] = prev = b;
  }
  for (let i = 0; i < n; i++, at += 4) slots[i] = v.getUint32(at, true);
  const pending = new Float64Array(h.pendingCount);
  prev = -1;
  for (let i = 0; i < h.pendingCount; i++, at += 8) {
    const b = getU64(v, at);
    if (!(b > prev)) return "pending blocks out of order";
    pending[i] = prev = b;
  }
  const lostBlocks: number[] = [];
  for (let i = 0; i < h.lostCount; i++, at += 8) lostBlocks.push(getU64(v, at));
  const lost = new Map<number, Uint8Array>();
  for (const b of lostBlocks) {
    if (!Number.isSafeInteger(b)) return "lost block out of range";
    lost.set(b, body.slice(at, at + h.maskBytes));
    at += h.maskBytes;
  }
  const counters: Record<string, number> = {};
  const end = at + h.counterBytes;
  while (at < end) {
    const len = body[at]!;
    if (at + 1 + len + 8 > end) return "counters truncated";
    counters[Buffer.from(body.subarray(at + 1, at + 1 + len)).toString("utf8")] = v.getFloat64(
      at + 1 + len,
      true,
    );
    at += 1 + len + 8;
  }
  const identity = body.slice(at, at + h.identityBytes);
  at += h.identityBytes;
  const snapshot: TableSnapshot = { blocks, slots, pending, lost, counters };
  if (h.mirrorCount === 0) return { snapshot, identity };
  const mirrorBlocks = new Float64Array(h.mirrorCount);
  prev = -1;
  for (let i = 0; i < h.mirrorCount; i++, at += 8) {
    const b = getU64(v, at);
    if (!(b > prev)) return "mirrored blocks out of order";
    mirrorBlocks[i] = prev = b;
  }
  const mirrorSlots = new Uint32Array(h.mirrorCount);
  for (let i = 0; i < h.mirrorCount; i++, at += 4) mirrorSlots[i] = v.getUint32(at, true);
  return { snapshot: { ...snapshot, mirrors: { blocks: mirrorBlocks, slots: mirrorSlots } }, identity };
}
