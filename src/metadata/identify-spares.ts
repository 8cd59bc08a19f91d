// Matches the devices given to open/check to the members of a set: reads every superblock, refuses
// foreign, unknown and duplicate spares, and adopts a member whose superblocks alone were lost.
import type { BlockDevice } from "../block/block-device.js";
import type { SetIdentity } from "./metadata-store.js";
import type { MetadataLayout } from "./layout.js";
import { uuidToBytes } from "./layout.js";
import { readSlotHeader, scanSuperblocks } from "./scan-copy.js";
import { type Superblock, sameSet } from "./superblock.js";
import { ForeignSpareError, NoValidMetadataError, SpareTooSmallError, UnknownSpareError } from "./errors.js";

/** A device matched to its place in the set. */
export interface Member {
  readonly device: BlockDevice;
  readonly spareIndex: number;
  /** Both superblock copies valid and identical (otherwise they are rewritten on repair). */
  readonly superblocksIntact: boolean;
  readonly superblockDetail?: string;
}

/** The set the devices belong to and where each one sits in it. */
export interface Identified {
  readonly identity: SetIdentity;
  readonly layout: MetadataLayout;
  readonly members: Member[];
}

/** Read the superblocks of `spares` and match them to one set. */
export async function identifySpares(spares: readonly BlockDevice[]): Promise<Identified> {
  if (spares.length === 0) throw new NoValidMetadataError("no spare device given");
  if (new Set(spares).size !== spares.length)
    throw new UnknownSpareError("", "the same spare device is given twice");
  const found: { device: BlockDevice; sb?: Superblock; intact: boolean; reason: string }[] = [];
  for (const device of spares) {
    const scan = await scanSuperblocks(device);
    const good = scan?.copies.find((c) => c.ok);
    const bad = scan?.copies.find((c) => !c.ok);
    found.push({
      device,
      ...(good?.ok ? { sb: good.sb } : {}),
      intact: scan?.intact ?? false,
      reason: bad && !bad.ok ? bad.reason : "device smaller than the superblocks",
    });
  }
  const votes = new Map<string, number>();
  for (const f of found) if (f.sb) votes.set(f.sb.identity.uuid, (votes.get(f.sb.identity.uuid) ?? 0) + 1);
  if (votes.size === 0) {
    throw new NoValidMetadataError(
      `no valid dmremap superblock on ${spares.map((s) => s.describe()).join(", ")}`,
    );
  }
  const best = Math.max(...votes.values());
  const ref = found.find((f) => f.sb && votes.get(f.sb.identity.uuid) === best)!.sb!;
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
    if (!sameSet(f.sb, ref))
      throw new UnknownSpareError(
        d,
        `spare ${d}: its superblock disagrees with the other spares of ${setText}`,
      );
    claim(f.device, f.sb.spareIndex);
    members.push({
      device: f.device,
      spareIndex: f.sb.spareIndex,
      superblocksIntact: f.intact,
      ...(f.intact ? {} : { superblockDetail: f.reason }),
    });
  }
  const setUuid = uuidToBytes(identity.uuid);
  for (const f of found) {
    if (f.sb) continue;
    const d = f.device.describe();
    let index = -1;
    if (f.device.sizeBytes >= layout.metadataBytes) {
      for (const s of [0, 1] as const) {
        const h = await readSlotHeader(f.device, layout, s, setUuid);
        if (typeof h !== "string" && h.spareIndex < identity.spares.length) index = h.spareIndex;
      }
    }
    if (index < 0 || claimed.has(index)) {
      throw new UnknownSpareError(
        d,
        `spare ${d} holds no valid dmremap metadata of ${setText} (${f.reason})`,
      );
    }
    claim(f.device, index);
    members.push({
      device: f.device,
      spareIndex: index,
      superblocksIntact: false,
      superblockDetail: `superblocks lost (${f.reason}); identified by its checkpoint`,
    });
  }
  members.sort((a, b) => a.spareIndex - b.spareIndex);
  return { identity, layout, members };
}
