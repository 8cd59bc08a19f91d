// Recognises what a device already holds (filesystem, partition table, LVM, md, LUKS, swap) from
// magic numbers, as blkid and mkfs do, so that `create` does not format over someone's data.
import type { BlockDevice } from "./block-device.js";

/** One recognisable signature: where its magic lives and how to test it. */
interface Signature {
  /** What it is, as shown to administrators ("ext4 filesystem"). */
  readonly name: string;
  /** Byte offset of the probe window from the device start (negative: from the device end). */
  readonly offsetBytes: number;
  readonly test: (window: Uint8Array) => boolean;
  readonly windowBytes: number;
}

const ascii = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0));

function startsWith(window: Uint8Array, at: number, magic: Uint8Array): boolean {
  if (at + magic.length > window.length) return false;
  for (let i = 0; i < magic.length; i++) if (window[at + i] !== magic[i]) return false;
  return true;
}

const bytes = (at: number, magic: string | number[]) => {
  const m = typeof magic === "string" ? ascii(magic) : Uint8Array.from(magic);
  return (w: Uint8Array) => startsWith(w, at, m);
};

/** MBR: boot signature plus at least one partition entry with a type. */
function mbr(w: Uint8Array): boolean {
  if (w[510] !== 0x55 || w[511] !== 0xaa) return false;
  for (let e = 0; e < 4; e++) if (w[446 + e * 16 + 4] !== 0) return true;
  return false;
}

/** ext2/3/4 tell themselves apart by feature flags in the superblock (at 1024). */
function extKind(w: Uint8Array): string {
  const dv = new DataView(w.buffer, w.byteOffset, w.byteLength);
  const compat = dv.getUint32(1024 + 0x5c, true);
  const incompat = dv.getUint32(1024 + 0x60, true);
  if (incompat & 0x40 || incompat & 0x200 || incompat & 0x80) return "ext4 filesystem";
  if (compat & 0x4) return "ext3 filesystem";
  return "ext2 filesystem";
}

/** The signatures probed, cheapest windows first. */
const SIGNATURES: readonly Signature[] = [
  { name: "ext filesystem", offsetBytes: 0, windowBytes: 2048, test: bytes(1024 + 0x38, [0x53, 0xef]) },
  { name: "XFS filesystem", offsetBytes: 0, windowBytes: 512, test: bytes(0, "XFSB") },
  { name: "btrfs filesystem", offsetBytes: 0x10000, windowBytes: 512, test: bytes(0x40, "_BHRfS_M") },
  {
    name: "LUKS encrypted volume",
    offsetBytes: 0,
    windowBytes: 512,
    test: bytes(0, [0x4c, 0x55, 0x4b, 0x53, 0xba, 0xbe]),
  },
  {
    name: "swap space",
    offsetBytes: 0,
    windowBytes: 4096,
    test: (w) => bytes(4086, "SWAPSPACE2")(w) || bytes(4086, "SWAP-SPACE")(w),
  },
  {
    name: "LVM physical volume",
    offsetBytes: 0,
    windowBytes: 2048,
    test: (w) =>
      [0, 1, 2, 3].some((s) => bytes(s * 512, "LABELONE")(w) && bytes(s * 512 + 24, "LVM2 001")(w)),
  },
  {
    name: "md RAID member (superblock 1.1)",
    offsetBytes: 0,
    windowBytes: 512,
    test: bytes(0, [0xfc, 0x4e, 0x2b, 0xa9]),
  },
  {
    name: "md RAID member (superblock 1.2)",
    offsetBytes: 4096,
    windowBytes: 512,
    test: bytes(0, [0xfc, 0x4e, 0x2b, 0xa9]),
  },
  { name: "GPT partition table", offsetBytes: 512, windowBytes: 512, test: bytes(0, "EFI PART") },
  {
    name: "FAT filesystem",
    offsetBytes: 0,
    windowBytes: 512,
    test: (w) => (bytes(0x36, "FAT")(w) || bytes(0x52, "FAT32")(w)) && w[510] === 0x55 && w[511] === 0xaa,
  },
  { name: "NTFS filesystem", offsetBytes: 0, windowBytes: 512, test: bytes(3, "NTFS    ") },
  { name: "ISO 9660 filesystem", offsetBytes: 0x8000, windowBytes: 512, test: bytes(1, "CD001") },
  { name: "MBR partition table", offsetBytes: 0, windowBytes: 512, test: mbr },
];

/** An extra probe supplied by a higher layer (e.g. metadata/ recognising a dmremap superblock). */
export interface ExtraProbe {
  readonly name: string;
  readonly offsetBytes: number;
  readonly windowBytes: number;
  readonly test: (window: Uint8Array) => boolean;
}

/**
 * Names of the signatures found on `device` (empty when it looks blank or unknown). Windows past the
 * device end are skipped; a read error is reported as a signature-like finding ("unreadable start").
 */
export async function probeSignatures(
  device: BlockDevice,
  extra: readonly ExtraProbe[] = [],
): Promise<string[]> {
  const found: string[] = [];
  const cache = new Map<string, Uint8Array>();
  for (const sig of [...SIGNATURES, ...extra]) {
    const at = sig.offsetBytes < 0 ? device.sizeBytes + sig.offsetBytes : sig.offsetBytes;
    const length = Math.ceil(sig.windowBytes / 512) * 512;
    if (at < 0 || at + length > device.sizeBytes) continue;
    const key = `${at}+${length}`;
    let window = cache.get(key);
    if (!window) {
      window = new Uint8Array(length);
      await device.read(at, window);
      cache.set(key, window);
    }
    if (!sig.test(window)) continue;
    // One partition table or filesystem name per finding; ext tells its flavour from its flags.
    const name = sig.name === "ext filesystem" ? extKind(window) : sig.name;
    // A FAT or NTFS boot sector also carries the MBR signature: report the filesystem only.
    if (name === "MBR partition table" && found.some((f) => /FAT|NTFS|GPT/.test(f))) continue;
    found.push(name);
  }
  return found;
}
