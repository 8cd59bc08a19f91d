// Superblock codec: the static identity of a set and the layout of its metadata area, written
// twice at each end of every spare (docs/FORMAT.md "Superblock"). Decodes versions 1 and 2.
import type { SetIdentity, SpareIdentity } from "./metadata-store.js";
import { crc32c } from "./crc32c.js";
import {
  type MetadataLayout,
  MAX_SPARES,
  SUPERBLOCK_BYTES,
  bytesToUuid,
  getU64,
  hasMagic,
  putMagic,
  setU64,
  uuidToBytes,
  viewOf,
} from "./layout.js";

/** First 8 bytes of every superblock. */
export const SUPERBLOCK_MAGIC = "DMREMAP1";
/** On-disk format version written by this code. */
export const FORMAT_VERSION = 2;
/** Oldest version this code opens (and upgrades on open). */
export const OLDEST_FORMAT_VERSION = 1;

/** Which structure of one end of a spare lives in that end's relocation area. */
export type Relocation = "none" | "slot" | "journal";
const RELOCATION_CODES: readonly Relocation[] = ["none", "slot", "journal"];

/** Relocation state of both ends of one spare. */
export interface Relocations {
  readonly head: Relocation;
  readonly tail: Relocation;
}

/** No structure moved. */
export const NO_RELOCATIONS: Relocations = { head: "none", tail: "none" };

/** Code of a relocation state (0 none, 1 slot, 2 journal). */
export function relocationCode(r: Relocation): number {
  return RELOCATION_CODES.indexOf(r);
}

/** Relocation state of a code; undefined for an unknown code. */
export function relocationOf(code: number): Relocation | undefined {
  return RELOCATION_CODES[code];
}

const NAME_MAX = 256;
const SPEC_MAX = 1024;
const SPARES_AT = 1536;
const SPARE_ENTRY_BYTES = 40;
const CRC_AT = SUPERBLOCK_BYTES - 4;
const V2_AT = SPARES_AT + MAX_SPARES * SPARE_ENTRY_BYTES;
/** The UUID of a removed spare's entry (tombstone) in the spare table. */
export const REMOVED_SPARE_UUID = "00000000-0000-0000-0000-000000000000";

/** A decoded superblock: the set, the layout and which spare this copy is on. */
export interface Superblock {
  readonly identity: SetIdentity;
  readonly layout: MetadataLayout;
  readonly spareIndex: number;
  /** Version 2: which structures of this spare moved to a relocation area (version 1: none). */
  readonly relocations: Relocations;
}

/** Encode a superblock for spare `spareIndex` (in the version of `sb.layout`). */
export function encodeSuperblock(sb: Superblock): Uint8Array {
  const { identity: id, layout, spareIndex } = sb;
  if (id.spares.length > MAX_SPARES) throw new RangeError(`a set holds at most ${MAX_SPARES} spares`);
  const out = new Uint8Array(SUPERBLOCK_BYTES);
  const v = viewOf(out);
  putMagic(out, 0, SUPERBLOCK_MAGIC);
  v.setUint32(8, layout.version, true);
  v.setUint32(12, id.mirrorCopies ?? 0, true);
  out.set(uuidToBytes(id.uuid), 16);
  out.set(uuidToBytes(id.spares[spareIndex]!.uuid), 32);
  v.setUint32(48, spareIndex, true);
  v.setUint32(52, id.spares.length, true);
  v.setUint32(56, id.blockSize, true);
  v.setUint32(60, layout.pendingCapacity, true);
  setU64(v, 64, id.mainSizeBytes);
  out.set(Buffer.from(id.mainFingerprint, "hex").subarray(0, 32), 72);
  setU64(v, 104, id.createdAtMs);
  setU64(v, 112, layout.checkpointSlotBytes);
  setU64(v, 120, layout.journalBytes);
  setU64(v, 128, layout.metadataBytes);
  v.setUint32(136, layout.maxEntries, true);
  v.setUint32(140, layout.counterBytes, true);
  const name = Buffer.from(id.name, "utf8");
  if (name.length > NAME_MAX) throw new RangeError(`set name "${id.name}" is longer than ${NAME_MAX} bytes`);
  v.setUint16(144, name.length, true);
  out.set(name, 146);
  const spec = Buffer.from(id.mainSpec ?? "", "utf8");
  if (spec.length > SPEC_MAX) throw new RangeError(`main spec is longer than ${SPEC_MAX} bytes`);
  v.setUint16(402, spec.length, true);
  out.set(spec, 404);
  id.spares.forEach((s, i) => {
    const at = SPARES_AT + i * SPARE_ENTRY_BYTES;
    out.set(uuidToBytes(s.removed ? REMOVED_SPARE_UUID : s.uuid), at);
    setU64(v, at + 16, s.sizeBytes);
    setU64(v, at + 24, s.dataOffsetBytes);
    v.setUint32(at + 32, s.slotCount, true);
    v.setUint32(at + 36, s.firstSlot, true);
  });
  if (layout.version === 2) {
    setU64(v, V2_AT, layout.headJournalOffset);
    setU64(v, V2_AT + 8, layout.headRelocOffset);
    setU64(v, V2_AT + 16, layout.headRelocBytes);
    setU64(v, V2_AT + 24, layout.tailRelocBytes);
    out[V2_AT + 32] = relocationCode(sb.relocations.head);
    out[V2_AT + 33] = relocationCode(sb.relocations.tail);
  }
  v.setUint32(CRC_AT, crc32c(out, 0, CRC_AT), true);
  return out;
}

/** Why a superblock copy was rejected, or the decoded superblock. */
export type SuperblockResult = { ok: true; sb: Superblock } | { ok: false; blank: boolean; reason: string };

/** Decode one superblock copy (4096 bytes). */
export function decodeSuperblock(bytes: Uint8Array): SuperblockResult {
  if (!hasMagic(bytes, 0, SUPERBLOCK_MAGIC)) {
    return { ok: false, blank: bytes.every((b) => b === 0), reason: "no superblock magic" };
  }
  const v = viewOf(bytes);
  if (v.getUint32(CRC_AT, true) !== crc32c(bytes, 0, CRC_AT)) {
    return { ok: false, blank: false, reason: "superblock checksum mismatch" };
  }
  const version = v.getUint32(8, true);
  if (version !== 1 && version !== 2) {
    return { ok: false, blank: false, reason: `unsupported format version ${version}` };
  }
  const spareCount = v.getUint32(52, true);
  const spareIndex = v.getUint32(48, true);
  if (spareCount < 1 || spareCount > MAX_SPARES || spareIndex >= spareCount) {
    return { ok: false, blank: false, reason: `bad spare index ${spareIndex} of ${spareCount}` };
  }
  const spares: SpareIdentity[] = [];
  for (let i = 0; i < spareCount; i++) {
    const at = SPARES_AT + i * SPARE_ENTRY_BYTES;
    const uuid = bytesToUuid(bytes.subarray(at, at + 16));
    spares.push({
      uuid,
      index: i,
      sizeBytes: getU64(v, at + 16),
      dataOffsetBytes: getU64(v, at + 24),
      slotCount: v.getUint32(at + 32, true),
      firstSlot: v.getUint32(at + 36, true),
      ...(uuid === REMOVED_SPARE_UUID ? { removed: true as const } : {}),
    });
  }
  if (spares[spareIndex]!.removed)
    return { ok: false, blank: false, reason: `spare ${spareIndex} is recorded as removed` };
  const specLength = v.getUint16(402, true);
  const blockSize = v.getUint32(56, true);
  const identity: SetIdentity = {
    uuid: bytesToUuid(bytes.subarray(16, 32)),
    name: Buffer.from(bytes.subarray(146, 146 + v.getUint16(144, true))).toString("utf8"),
    blockSize,
    mainSizeBytes: getU64(v, 64),
    mainFingerprint: Buffer.from(bytes.subarray(72, 104)).toString("hex"),
    ...(specLength > 0
      ? { mainSpec: Buffer.from(bytes.subarray(404, 404 + specLength)).toString("utf8") }
      : {}),
    spares,
    createdAtMs: getU64(v, 104),
    ...(v.getUint32(12, true) === 2 ? { mirrorCopies: 2 as const } : {}),
  };
  const slotBytes = getU64(v, 112);
  const journalBytes = getU64(v, 120);
  const layout: MetadataLayout = {
    version,
    blockSize,
    maxEntries: v.getUint32(136, true),
    pendingCapacity: v.getUint32(60, true),
    counterBytes: v.getUint32(140, true),
    checkpointSlotBytes: slotBytes,
    journalBytes,
    metadataBytes: getU64(v, 128),
    ...(version === 2
      ? {
          headJournalOffset: getU64(v, V2_AT),
          headRelocOffset: getU64(v, V2_AT + 8),
          headRelocBytes: getU64(v, V2_AT + 16),
          tailRelocBytes: getU64(v, V2_AT + 24),
        }
      : {
          headJournalOffset: 8192 + 2 * slotBytes,
          headRelocOffset: 0,
          headRelocBytes: 0,
          tailRelocBytes: 0,
        }),
  };
  const head = relocationOf(bytes[V2_AT + 32]!);
  const tail = relocationOf(bytes[V2_AT + 33]!);
  if (version === 2 && (!head || !tail)) return { ok: false, blank: false, reason: "bad relocation state" };
  const relocations = version === 2 ? { head: head!, tail: tail! } : NO_RELOCATIONS;
  return { ok: true, sb: { identity, layout, spareIndex, relocations } };
}

/** True when two superblocks describe the same set and layout (they may differ in spare index). */
export function sameSet(a: Superblock, b: Superblock): boolean {
  const strip = (sb: Superblock) => JSON.stringify({ ...sb.identity, layout: sb.layout });
  return strip(a) === strip(b);
}

/** A spare entry as its tombstone: same place and slot range, zero UUID, removed. */
export function tombstoneOf(spare: SpareIdentity): SpareIdentity {
  return { ...spare, uuid: REMOVED_SPARE_UUID, removed: true };
}

/**
 * True when `smaller` describes the same set as `larger` before a membership change that `larger`
 * completes: `larger` has the same spares, possibly more at the end (an add stopped between
 * rewriting two members' superblocks), and possibly some of them turned into tombstones (a remove
 * stopped likewise), and differs in at least one of the two ways.
 */
export function isEarlierMembership(smaller: Superblock, larger: Superblock): boolean {
  const a = smaller.identity;
  const b = larger.identity;
  if (a.spares.length > b.spares.length) return false;
  const rest = (sb: Superblock) => JSON.stringify({ ...sb.identity, spares: [], layout: sb.layout });
  if (rest(smaller) !== rest(larger)) return false;
  let changed = a.spares.length < b.spares.length;
  for (const [i, s] of a.spares.entries()) {
    const t = b.spares[i]!;
    if (JSON.stringify(s) === JSON.stringify(t)) continue;
    if (s.removed || JSON.stringify(tombstoneOf(s)) !== JSON.stringify(t)) return false;
    changed = true;
  }
  return changed;
}
