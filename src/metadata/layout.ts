// Geometry of the metadata area on every spare (docs/FORMAT.md "Sizing") and small byte helpers
// shared by the codecs: u64 numbers, UUIDs, the main-device fingerprint.
import { createHash } from "node:crypto";

/** Bytes of one superblock copy. */
export const SUPERBLOCK_BYTES = 4096;
/** Bytes of a checkpoint header (one sector, the body follows). */
export const CHECKPOINT_HEADER_BYTES = 512;
/** Bytes of a journal batch header. */
export const BATCH_HEADER_BYTES = 64;
/** Bytes of an encoded journal record without its mask. */
export const RECORD_BYTES = 16;
/** Default bound of the pending list. */
export const DEFAULT_PENDING_CAPACITY = 65536;
/** Bytes reserved for the counters of a checkpoint. */
export const COUNTER_BYTES = 16384;
/** Journal ring size bounds (default = smallest spare / 16, clamped). */
export const MIN_JOURNAL_BYTES = 16384;
export const MAX_JOURNAL_BYTES = 1 << 20;
/** Most spares one superblock can list. */
export const MAX_SPARES = 60;

/** Uniform metadata layout of every copy, decided at create and recorded in the superblock. */
export interface MetadataLayout {
  /** On-disk format version of the set: 1 (head only, upgraded on open) or 2 (both ends). */
  readonly version: 1 | 2;
  readonly blockSize: number;
  /** Largest number of remapped blocks (and of lost-sector entries) a checkpoint can hold. */
  readonly maxEntries: number;
  readonly pendingCapacity: number;
  readonly counterBytes: number;
  /** Bytes of one checkpoint slot (header + largest body), a multiple of 4096. */
  readonly checkpointSlotBytes: number;
  readonly journalBytes: number;
  /** Bytes of the head metadata area (data slots start at the next block boundary). */
  readonly metadataBytes: number;
  /** Version 2: offset of the head journal ring. */
  readonly headJournalOffset: number;
  /** Version 2: offset and size of the head's reserved relocation area. */
  readonly headRelocOffset: number;
  readonly headRelocBytes: number;
  /** Version 2: size of the tail's reserved relocation area. */
  readonly tailRelocBytes: number;
}

/** One end of a spare in version 2: each end holds a complete copy of the metadata. */
export type End = "head" | "tail";
/** Both ends, head first. */
export const ENDS: readonly End[] = ["head", "tail"];

/** Where the structures of one end of one spare sit (byte offsets on the spare). */
export interface EndGeometry {
  readonly end: End;
  /** The two superblock copies of this end. */
  readonly superblocks: readonly [number, number];
  readonly slot: number;
  readonly journal: number;
  /** Reserved area a failing structure of this end moves to. */
  readonly reloc: number;
  readonly relocBytes: number;
}

/** Bytes at the end of a spare taken by the tail metadata (slot + journal + reloc + 2 superblocks). */
export function tailBytes(layout: MetadataLayout): number {
  return 2 * SUPERBLOCK_BYTES + layout.checkpointSlotBytes + layout.journalBytes + layout.tailRelocBytes;
}

/** The 4096-aligned end of a spare of `sizeBytes` (the tail superblocks sit just below it). */
export function alignedEnd(sizeBytes: number): number {
  return Math.floor(sizeBytes / 4096) * 4096;
}

/** Geometry of `end` on a spare of `sizeBytes` (version 2). */
export function endGeometry(layout: MetadataLayout, end: End, sizeBytes: number): EndGeometry {
  if (end === "head") {
    return {
      end,
      superblocks: [0, SUPERBLOCK_BYTES],
      slot: 2 * SUPERBLOCK_BYTES,
      journal: layout.headJournalOffset,
      reloc: layout.headRelocOffset,
      relocBytes: layout.headRelocBytes,
    };
  }
  const e = alignedEnd(sizeBytes);
  const slot = e - 2 * SUPERBLOCK_BYTES - layout.checkpointSlotBytes;
  const journal = slot - layout.journalBytes;
  return {
    end,
    superblocks: [e - 2 * SUPERBLOCK_BYTES, e - SUPERBLOCK_BYTES],
    slot,
    journal,
    reloc: journal - layout.tailRelocBytes,
    relocBytes: layout.tailRelocBytes,
  };
}

/** First byte of the tail metadata of a spare of `sizeBytes`; data slots end at or before it. */
export function tailStart(layout: MetadataLayout, sizeBytes: number): number {
  return alignedEnd(sizeBytes) - tailBytes(layout);
}

/** Data slots a spare of `sizeBytes` holds between the head area and the tail area. */
export function slotCountFor(layout: MetadataLayout, sizeBytes: number, dataOffsetBytes: number): number {
  return Math.max(0, Math.floor((tailStart(layout, sizeBytes) - dataOffsetBytes) / layout.blockSize));
}

/** Version 1 offset of checkpoint slot 0 (A) or 1 (B); the head-only layout read for upgrade. */
export function slotOffset(layout: MetadataLayout, slot: 0 | 1): number {
  return 2 * SUPERBLOCK_BYTES + slot * layout.checkpointSlotBytes;
}

/** Version 1 offset of the journal ring. */
export function journalOffset(layout: MetadataLayout): number {
  return 2 * SUPERBLOCK_BYTES + 2 * layout.checkpointSlotBytes;
}

/** Bytes of the lost-sector mask of one block. */
export function maskBytesFor(blockSize: number): number {
  return Math.ceil(blockSize / 512 / 8);
}

/** Round `n` up to a multiple of `unit`. */
export function roundUp(n: number, unit: number): number {
  return Math.ceil(n / unit) * unit;
}

/** Largest checkpoint body for the given capacities. */
export function maxBodyBytes(maxEntries: number, pendingCapacity: number, blockSize: number): number {
  return maxEntries * 12 + pendingCapacity * 8 + maxEntries * (8 + maskBytesFor(blockSize)) + COUNTER_BYTES;
}

/**
 * Compute a version 2 layout: `maxEntries` bounds the table (min of main blocks and total slots).
 * Head: 2 superblocks, checkpoint slot, journal, relocation area; the tail mirrors it.
 */
export function computeLayout(
  blockSize: number,
  maxEntries: number,
  pendingCapacity: number,
  journalBytes: number,
  mirrorCopies: 1 | 2 = 1,
): MetadataLayout {
  // A mirrored set also records a second slot (12 bytes) per remapped block.
  const mirrorBytes = mirrorCopies === 2 ? maxEntries * 12 : 0;
  const checkpointSlotBytes = roundUp(
    CHECKPOINT_HEADER_BYTES + maxBodyBytes(maxEntries, pendingCapacity, blockSize) + mirrorBytes,
    4096,
  );
  const relocBytes = Math.max(checkpointSlotBytes, journalBytes);
  const headJournalOffset = 2 * SUPERBLOCK_BYTES + checkpointSlotBytes;
  return {
    version: 2,
    blockSize,
    maxEntries,
    pendingCapacity,
    counterBytes: COUNTER_BYTES,
    checkpointSlotBytes,
    journalBytes,
    metadataBytes: headJournalOffset + journalBytes + relocBytes,
    headJournalOffset,
    headRelocOffset: headJournalOffset + journalBytes,
    headRelocBytes: relocBytes,
    tailRelocBytes: relocBytes,
  };
}

/**
 * The version 2 layout a version 1 set is upgraded to: the head keeps its places (slot A stays the
 * head slot, the old slot B becomes the head relocation area, the journal stays), the tail is new.
 */
export function upgradedLayout(v1: MetadataLayout): MetadataLayout {
  const s = v1.checkpointSlotBytes;
  return {
    ...v1,
    version: 2,
    headJournalOffset: 2 * SUPERBLOCK_BYTES + 2 * s,
    headRelocOffset: 2 * SUPERBLOCK_BYTES + s,
    headRelocBytes: s,
    tailRelocBytes: Math.max(s, v1.journalBytes),
  };
}

/** Default journal size for a set whose smallest spare has `minSpareBytes`. */
export function defaultJournalBytes(minSpareBytes: number): number {
  const wanted = Math.floor(minSpareBytes / 16 / 4096) * 4096;
  return Math.min(MAX_JOURNAL_BYTES, Math.max(MIN_JOURNAL_BYTES, wanted));
}

/** Fingerprint of the main device: sha256 hex of a canonical description (docs/FORMAT.md). */
export function mainFingerprint(mainSizeBytes: number, blockSize: number): string {
  return createHash("sha256")
    .update(`dmremap-main-v1:size=${mainSizeBytes};block=${blockSize}`)
    .digest("hex");
}

/** Write a non-negative safe integer as little-endian u64. */
export function setU64(view: DataView, at: number, value: number): void {
  view.setUint32(at, value >>> 0, true);
  view.setUint32(at + 4, Math.floor(value / 4294967296), true);
}

/** Read a little-endian u64; NaN when it does not fit a safe integer (treated as corrupt). */
export function getU64(view: DataView, at: number): number {
  const hi = view.getUint32(at + 4, true);
  if (hi >= 0x200000) return NaN;
  return hi * 4294967296 + view.getUint32(at, true);
}

/** UUID string -> 16 bytes. */
export function uuidToBytes(uuid: string): Uint8Array {
  const hex = uuid.replace(/-/g, "");
  if (!/^[0-9a-f]{32}$/i.test(hex)) throw new RangeError(`"${uuid}" is not a UUID`);
  return Uint8Array.from(Buffer.from(hex, "hex"));
}

/** 16 bytes -> UUID string. */
export function bytesToUuid(bytes: Uint8Array): string {
  const h = Buffer.from(bytes.buffer, bytes.byteOffset, 16).toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** A DataView over a Uint8Array. */
export function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** True when the bytes equal the ASCII text. */
export function hasMagic(bytes: Uint8Array, at: number, magic: string): boolean {
  for (let i = 0; i < magic.length; i++) if (bytes[at + i] !== magic.charCodeAt(i)) return false;
  return true;
}

/** Write ASCII text. */
export function putMagic(bytes: Uint8Array, at: number, magic: string): void {
  for (let i = 0; i < magic.length; i++) bytes[at + i] = magic.charCodeAt(i);
}
