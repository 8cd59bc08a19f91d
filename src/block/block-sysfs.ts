// Linux block-device facts from a device number and sysfs: size and logical block size.
// FileDevice reads them at open; tests point `sysfsRoot` at a fake tree.
import { readFile } from "node:fs/promises";

/** Major/minor of a Linux device number, decoded as glibc's gnu_dev_major/gnu_dev_minor do. */
export function decodeDeviceNumber(rdev: bigint): { major: number; minor: number } {
  const major = ((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & 0xfffff000n);
  const minor = (rdev & 0xffn) | ((rdev >> 12n) & 0xffffff00n);
  return { major: Number(major), minor: Number(minor) };
}

/** Size in bytes of block device MAJOR:MINOR, from /sys/dev/block/MAJOR:MINOR/size (512-byte sectors). */
export async function readBlockDeviceSize(major: number, minor: number, sysfsRoot = "/sys"): Promise<number> {
  const sizePath = `${sysfsRoot}/dev/block/${major}:${minor}/size`;
  const text = (await readFile(sizePath, "utf8")).trim();
  if (!/^\d+$/.test(text)) throw new RangeError(`${sizePath} holds "${text}", not a sector count`);
  return Number(text) * 512;
}

/** Logical block size of block device MAJOR:MINOR, or of the disk holding partition MAJOR:MINOR. */
export async function readLogicalBlockSize(
  major: number,
  minor: number,
  sysfsRoot = "/sys",
): Promise<number | undefined> {
  const dir = `${sysfsRoot}/dev/block/${major}:${minor}`;
  for (const path of [`${dir}/queue/logical_block_size`, `${dir}/../queue/logical_block_size`]) {
    const text = await readFile(path, "utf8").then(
      (t) => t.trim(),
      () => undefined,
    );
    if (text !== undefined && /^\d+$/.test(text)) return Number(text);
  }
  return undefined;
}
