// Which filesystem blocks, inodes and files the set's pending blocks and lost sectors hit, and which of
// them are filesystem metadata (superblocks, group descriptors, bitmaps, inode tables, journal).
import { type Ext4Layout, probeLayout, probeOwners, SPECIAL_INODES } from "./ext4-probe.js";
import { SECTOR_BYTES, type RemapState } from "./remap-state.js";

/** One filesystem block hit by a bad area. */
export interface AffectedBlock {
  readonly fsBlock: number;
  /** Why it reads EIO: a pending dmremap block, or lost 512-byte sectors of a remapped block. */
  readonly cause: "pending" | "lost-sectors";
  /** The dmremap block (remap unit) involved. */
  readonly block: number;
  /** Owning inode, or null when no inode owns the block (free space or fixed metadata). */
  readonly inode: number | null;
  readonly paths: readonly string[];
  /** What filesystem metadata the block holds, or null for file data / free space. */
  readonly metadata: string | null;
}

/** Filesystem blocks touched by the bad areas, with their cause, ascending. */
export function badFsBlocks(
  state: RemapState,
  fsBlockSize: number,
  offsetBytes: number,
  fsBlockCount: number,
): { fsBlock: number; cause: AffectedBlock["cause"]; block: number }[] {
  const out = new Map<number, { fsBlock: number; cause: AffectedBlock["cause"]; block: number }>();
  const add = (startBytes: number, lengthBytes: number, cause: AffectedBlock["cause"], block: number) => {
    const start = Math.max(startBytes, offsetBytes) - offsetBytes;
    const end = Math.min(startBytes + lengthBytes - offsetBytes, fsBlockCount * fsBlockSize);
    for (let b = Math.floor(start / fsBlockSize); b * fsBlockSize < end; b++) {
      if (!out.has(b)) out.set(b, { fsBlock: b, cause, block });
    }
  };
  for (const b of state.pending)
    add(b * state.blockSize, Math.min(state.blockSize, state.sizeBytes - b * state.blockSize), "pending", b);
  for (const r of state.remapped) {
    for (const s of r.lostSectors)
      add(r.block * state.blockSize + s * SECTOR_BYTES, SECTOR_BYTES, "lost-sectors", r.block);
  }
  return [...out.values()].sort((a, b) => a.fsBlock - b.fsBlock);
}

function metadataOf(layout: Ext4Layout, fsBlock: number, inode: number | null): string | null {
  if (fsBlock < layout.firstDataBlock) return "boot block";
  const extent = layout.metadata.find((m) => fsBlock >= m.firstBlock && fsBlock <= m.lastBlock);
  if (extent) return `${extent.what} (group ${extent.group})`;
  if (inode !== null && inode !== 2 && SPECIAL_INODES[inode]) return SPECIAL_INODES[inode];
  return null;
}

/** The affected filesystem blocks of an ext2/3/4 filesystem starting `offsetBytes` into `image`. */
export async function affectedExt4(
  state: RemapState,
  image: string,
  offsetBytes: number,
): Promise<{ layout: Ext4Layout; blocks: AffectedBlock[] }> {
  const layout = await probeLayout(image, offsetBytes);
  const bad = badFsBlocks(state, layout.blockSize, offsetBytes, layout.blockCount);
  const { owners, paths } = await probeOwners(
    image,
    offsetBytes,
    bad.map((b) => b.fsBlock),
  );
  const blocks = bad.map((b) => {
    const inode = owners.get(b.fsBlock) ?? null;
    return {
      ...b,
      inode,
      paths: inode !== null ? (paths.get(inode) ?? []) : [],
      metadata: metadataOf(layout, b.fsBlock, inode),
    };
  });
  return { layout, blocks };
}
