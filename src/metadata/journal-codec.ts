// Journal codec: records and 512-byte-aligned batches (docs/FORMAT.md "Journal batch").
// A batch is valid only if its magic, set UUID, bounds and CRC32C all check out.
import type { JournalRecord, RemapReason } from "./metadata-store.js";
import { crc32c } from "./crc32c.js";
import {
  BATCH_HEADER_BYTES,
  RECORD_BYTES,
  getU64,
  hasMagic,
  putMagic,
  roundUp,
  setU64,
  viewOf,
} from "./layout.js";

/** First 8 bytes of every journal batch. */
export const BATCH_MAGIC = "DMRMJRNL";

const TYPE_CODES = { remap: 1, unremap: 2, pending: 3, "clear-pending": 4, lost: 5, mirror: 6 } as const;
const REASONS: readonly RemapReason[] = ["write-error", "read-error", "migrate", "manual"];
const CRC_AT = 52;

/** Encoded size of one record. */
export function recordBytes(record: JournalRecord): number {
  return RECORD_BYTES + (record.type === "lost" ? record.sectorMask.length : 0);
}

/** Encode records back to back into `out` at `at`; returns the end offset. */
export function encodeRecords(records: readonly JournalRecord[], out: Uint8Array, at: number): number {
  const v = viewOf(out);
  for (const r of records) {
    out.fill(0, at, at + RECORD_BYTES);
    out[at] = TYPE_CODES[r.type];
    if (r.type === "remap") {
      out[at + 1] = REASONS.indexOf(r.reason) + 1;
      v.setUint32(at + 4, r.slot, true);
    } else if (r.type === "mirror") v.setUint32(at + 4, r.slot, true);
    setU64(v, at + 8, r.block);
    at += RECORD_BYTES;
    if (r.type === "lost") {
      v.setUint16(at - RECORD_BYTES + 2, r.sectorMask.length, true);
      out.set(r.sectorMask, at);
      at += r.sectorMask.length;
    }
  }
  return at;
}

/** Decode `count` records from `bytes[at, end)`; undefined when malformed. */
export function decodeRecords(
  bytes: Uint8Array,
  at: number,
  end: number,
  count: number,
): JournalRecord[] | undefined {
  const v = viewOf(bytes);
  const out: JournalRecord[] = [];
  for (let i = 0; i < count; i++) {
    if (at + RECORD_BYTES > end) return undefined;
    const type = bytes[at]!;
    const block = getU64(v, at + 8);
    if (!Number.isSafeInteger(block)) return undefined;
    if (type === 1) {
      const reason = REASONS[bytes[at + 1]! - 1];
      if (!reason) return undefined;
      out.push({ type: "remap", block, slot: v.getUint32(at + 4, true), reason });
    } else if (type === 2) out.push({ type: "unremap", block });
    else if (type === 3) out.push({ type: "pending", block });
    else if (type === 4) out.push({ type: "clear-pending", block });
    else if (type === 5) {
      const n = v.getUint16(at + 2, true);
      if (at + RECORD_BYTES + n > end) return undefined;
      const sectorMask = bytes.slice(at + RECORD_BYTES, at + RECORD_BYTES + n);
      out.push({ type: "lost", block, sectorMask });
      at += n;
    } else if (type === 6) out.push({ type: "mirror", block, slot: v.getUint32(at + 4, true) });
    else return undefined;
    at += RECORD_BYTES;
  }
  return at === end ? out : undefined;
}

/** Identity of a batch: which commit it is and which checkpoint it follows. */
export interface BatchHeader {
  readonly generation: number;
  readonly checkpointGeneration: number;
  readonly recordCount: number;
  readonly payloadBytes: number;
  /** Bytes the batch occupies in the ring (multiple of 512). */
  readonly batchBytes: number;
}

/** Encode a batch: header + records, padded with zeroes to a multiple of 512 bytes. */
export function encodeBatch(
  setUuid: Uint8Array,
  generation: number,
  checkpointGeneration: number,
  records: readonly JournalRecord[],
): Uint8Array {
  let payloadBytes = 0;
  for (const r of records) payloadBytes += recordBytes(r);
  const batchBytes = roundUp(BATCH_HEADER_BYTES + payloadBytes, 512);
  const out = new Uint8Array(batchBytes);
  const v = viewOf(out);
  putMagic(out, 0, BATCH_MAGIC);
  setU64(v, 8, generation);
  setU64(v, 16, checkpointGeneration);
  out.set(setUuid, 24);
  v.setUint32(40, records.length, true);
  v.setUint32(44, payloadBytes, true);
  v.setUint32(48, batchBytes, true);
  encodeRecords(records, out, BATCH_HEADER_BYTES);
  v.setUint32(CRC_AT, batchCrc(out, payloadBytes), true);
  return out;
}

function batchCrc(bytes: Uint8Array, payloadBytes: number): number {
  return crc32c(bytes, BATCH_HEADER_BYTES, BATCH_HEADER_BYTES + payloadBytes, crc32c(bytes, 0, CRC_AT));
}

/** Decode the batch starting at `ring[at]`; undefined unless complete, in bounds and checksummed. */
export function decodeBatch(
  ring: Uint8Array,
  at: number,
  setUuid: Uint8Array,
): { header: BatchHeader; records: JournalRecord[] } | undefined {
  if (at + 512 > ring.length || !hasMagic(ring, at, BATCH_MAGIC)) return undefined;
  for (let i = 0; i < 16; i++) if (ring[at + 24 + i] !== setUuid[i]) return undefined;
  const v = viewOf(ring);
  const payloadBytes = v.getUint32(at + 44, true);
  const batchBytes = v.getUint32(at + 48, true);
  if (batchBytes !== roundUp(BATCH_HEADER_BYTES + payloadBytes, 512) || at + batchBytes > ring.length) {
    return undefined;
  }
  const batch = ring.subarray(at, at + batchBytes);
  if (viewOf(batch).getUint32(CRC_AT, true) !== batchCrc(batch, payloadBytes)) return undefined;
  const header: BatchHeader = {
    generation: getU64(v, at + 8),
    checkpointGeneration: getU64(v, at + 16),
    recordCount: v.getUint32(at + 40, true),
    payloadBytes,
    batchBytes,
  };
  const records = decodeRecords(
    batch,
    BATCH_HEADER_BYTES,
    BATCH_HEADER_BYTES + payloadBytes,
    header.recordCount,
  );
  return records ? { header, records } : undefined;
}
