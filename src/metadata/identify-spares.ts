// Matches the devices given to open/check to the members of a set: reads the superblocks at both
// ends of every device, refuses foreign, unknown and duplicate spares, and adopts a member whose
// superblocks alone were lost (found by its checkpoint headers).
import type { BlockDevice } from "../block/block-device.js";
import type { SetIdentity } from "./metadata-store.js";
import { type End, ENDS, type MetadataLayout, endGeometry, uuidToBytes } from "./layout.js";
import { readSlotHeader, scanSuperblocksAt, type SuperblockScan } from "./scan-copy.js";
import { readBytes } from "../block/base-device.js";
import { CHECKPOINT_HEADER_BYTES } from "./layout.js";
import { decodeCheckpointHeader } from "./checkpoint-codec.js";
import {
  NO_RELOCATIONS,
  type Relocations,
  type Superblock,
  isEarlierMembership,
  sameSet,
} from "./superblock.js";
import { ForeignSpareError, NoValidMetadataError, SpareTooSmallError, UnknownSpareError } from "./errors.js";

/** A device matched to its place in the set. */
export interface Member {
  readonly device: BlockDevice;
  readonly spareIndex: number;
  /** Both superblock copies of the head (resp. tail) valid, identical and of the set's version. */
  readonly superblocksIntact: Readonly<Record<End, boolean>>;
  readonly superblockDetail?: string;
  /** Relocation state recorded in this member's superblocks. */
  readonly relocations: Relocations;
}

/** The set the devices belong to and where each one sits in it. */
export interface Identified {
  readonly identity: SetIdentity;
  readonly layout: MetadataLayout;
  readonly members: Member[];
}

interface Found {
  readonly device: BlockDevice;
  readonly sb?: Superblock;
  /** Every valid superblock of the device (version 1 or 2), to adopt an interrupted upgrade. */
  readonly all: readonly Superblock[];
  readonly scans: Readonly<Record<End, SuperblockScan | undefined>>;
  readonly reason: string;
}

function describeScan(scan: SuperblockScan | undefined): string {
  if (!scan) return "unreadable";
  const bad = scan.copies.find((c) => !c.ok);
  return bad && !bad.ok ? bad.reason : "copies differ";
}

async function scanDevice(device: BlockDevice): Promise<Found> {
  const scans = {
    head: await scanSuperblocksAt(device, "head"),
    tail: await scanSuperblocksAt(device, "tail"),
  };
  const all: Superblock[] = [];
  for (const end of ENDS) {
    for (const c of scans[end]?.copies ?? []) {
      // A version 1 superblock only ever sits at the head; a version 1 spare's tail holds data
      // slots, which may hold anything (even another set's superblock): the head's set decides.
      if (!c.ok || (end === "tail" && c.sb.layout.version !== 2)) continue;
      if (end === "tail" && all.length > 0 && all[0]!.identity.uuid !== c.sb.identity.uuid) continue;
      all.push(c.sb);
    }
  }
  const sb = all.find((s) => s.layout.version === 2) ?? all[0];
  const reasons = ENDS.map((end) => `${end}: ${describeScan(scans[end])}`);
  return { device, ...(sb ? { sb } : {}), all, scans, reason: reasons.join(", ") };
}

/** Superblocks of `end` are intact when both copies decode, match and are of the set's version. */
function endIntact(scan: SuperblockScan | undefined, ref: Superblock): boolean {
  if (!scan?.intact) return false;
  const c = scan.copies[0];
  return c.ok && c.sb.layout.version === ref.layout.version && sameSet(c.sb, ref);
}

/** The spare index recorded in a version 2 checkpoint header of this set on `device`, or -1. */
async function indexFromCheckpoints(
  device: BlockDevice,
  layout: MetadataLayout,
  identity: SetIdentity,
): Promise<number> {
  const setUuid = uuidToBytes(identity.uuid);
  if (layout.version === 1) {
    if (device.sizeBytes < layout.metadataBytes) return -1;
    for (const s of [0, 1] as const) {
      const h = await readSlotHeader(device, layout, s, setUuid).catch(() => "unreadable");
      if (typeof h !== "string" && h.spareIndex < identity.spares.length) return h.spareIndex;
    }
    return -1;
  }
  for (const end of ENDS) {
    const g = endGeometry(layout, end, device.sizeBytes);
    for (const at of [g.slot, g.reloc]) {
      if (at < 0 || at + CHECKPOINT_HEADER_BYTES > device.sizeBytes) continue;
      const sector = await readBytes(device, at, CHECKPOINT_HEADER_BYTES).catch(() => undefined);
      const h = sector && decodeCheckpointHeader(sector, setUuid);
      if (
        h &&
        typeof h !== "string" &&
        h.spareIndex < identity.spares.length &&
        !identity.spares[h.spareIndex]!.removed
      ) {
        // The tail is found from the device's size; it must be the size recorded for that spare.
        if (end === "tail" && identity.spares[h.spareIndex]!.sizeBytes !== device.sizeBytes) continue;
        return h.spareIndex;
      }
    }
  }
  return -1;
}

/** Read the superblocks of `spares` and match them to one set. */
export async function identifySpares(spares: readonly BlockDevice[]): Promise<Identified> {
  if (spares.length === 0) throw new NoValidMetadataError("no spare device given");
  if (new Set(spares).size !== spares.length)
    throw new UnknownSpareError("", "the same spare device is given twice");
  const found: Found[] = [];
  for (const device of spares) found.push(await scanDevice(device));
  const votes = new Map<string, number>();
  for (const f of found) if (f.sb) votes.set(f.sb.identity.uuid, (votes.get(f.sb.identity.uuid) ?? 0) + 1);
  if (votes.size === 0) {
    throw new NoValidMetadataError(
      `no valid dmremap superblock at either end of ${spares.map((s) => s.describe()).join(", ")}`,
    );
  }
  const best = Math.max(...votes.values());
  const uuid = [...votes].find(([, n]) => n === best)![0];
  // A set with any version 2 member is version 2 (an upgrade that stopped half way is finished).
  const ofSet = found.flatMap((f) => f.all).filter((s) => s.identity.uuid === uuid);
  const first = ofSet.find((s) => s.layout.version === 2) ?? ofSet[0]!;
  // A spare added at the end wins over the membership before it (membership.ts, addSpare).
  const ref = ofSet.reduce((r, s) => (isEarlierMembership(r, s) ? s : r), first);
  const { identity, layout } = ref;
  const setText = `set "${identity.name}" (${identity.uuid})`;
  const claimed = new Map<number, BlockDevice>();
  const members: Member[] = [];
  const claim = (device: BlockDevice, index: number) => {
    const other = claimed.get(index);
    if (other)
      throw new UnknownSpareError(
        device.describe(),
        `${other.describe()} and ${device.describe()} both claim to be spare ${index} of ${setText}`,
      );
    if (identity.spares[index]!.removed)
      throw new UnknownSpareError(
        device.describe(),
        `${device.describe()} was spare ${index} of ${setText}, which has been removed from the set; do not give it`,
      );
    claimed.set(index, device);
    const recorded = identity.spares[index]!.sizeBytes;
    if (device.sizeBytes < recorded) {
      throw new SpareTooSmallError(
        device.describe(),
        `spare ${device.describe()} is ${device.sizeBytes} bytes but was recorded in ${setText} with ${recorded} bytes`,
      );
    }
  };
  for (const f of found) {
    if (!f.sb) continue;
    const d = f.device.describe();
    if (f.sb.identity.uuid !== identity.uuid) {
      throw new ForeignSpareError(
        d,
        identity.uuid,
        f.sb.identity.uuid,
        `spare ${d} belongs to set "${f.sb.identity.name}" (${f.sb.identity.uuid}), not to ${setText}`,
      );
    }
    const own = f.all.find((s) => s.identity.uuid === uuid && s.layout.version === ref.layout.version);
    if (own && !sameSet(own, ref) && !isEarlierMembership(own, ref))
      throw new UnknownSpareError(
        d,
        `spare ${d}: its superblock disagrees with the other spares of ${setText}`,
      );
    const sb = own ?? f.sb;
    const { spareIndex } = sb;
    if (!own && identity.spares[spareIndex]?.uuid !== sb.identity.spares[spareIndex]?.uuid)
      throw new UnknownSpareError(d, `spare ${d}: its spare UUID is not recorded in ${setText}`);
    claim(f.device, spareIndex);
    // Superblocks are read at the end recorded for this spare (it may have grown since).
    const recorded = identity.spares[spareIndex]!.sizeBytes;
    const tail =
      recorded === f.device.sizeBytes ? f.scans.tail : await scanSuperblocksAt(f.device, "tail", recorded);
    const intact = { head: endIntact(f.scans.head, ref), tail: endIntact(tail, ref) };
    const detail = ENDS.filter((end) => !intact[end])
      .map((end) =>
        !own
          ? `${end} superblocks of format ${sb.layout.version} (upgrade interrupted)`
          : `${end} superblocks: ${describeScan(end === "head" ? f.scans.head : tail)}`,
      )
      .join("; ");
    members.push({
      device: f.device,
      spareIndex,
      superblocksIntact: layout.version === 1 ? { head: intact.head, tail: true } : intact,
      relocations: own?.relocations ?? NO_RELOCATIONS,
      ...(detail && (layout.version === 2 || !intact.head) ? { superblockDetail: detail } : {}),
    });
  }
  for (const f of found) {
    if (f.sb) continue;
    const d = f.device.describe();
    const index = await indexFromCheckpoints(f.device, layout, identity);
    if (index < 0 || claimed.has(index)) {
      throw new UnknownSpareError(
        d,
        `spare ${d} holds no valid dmremap metadata of ${setText} (superblocks ${f.reason})`,
      );
    }
    claim(f.device, index);
    members.push({
      device: f.device,
      spareIndex: index,
      superblocksIntact: { head: false, tail: layout.version === 1 },
      relocations: NO_RELOCATIONS,
      superblockDetail: `superblocks lost (${f.reason}); identified by its checkpoint`,
    });
  }
  members.sort((a, b) => a.spareIndex - b.spareIndex);
  return { identity, layout, members };
}
