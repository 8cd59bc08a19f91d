// Loop devices for end-to-end tests (root): attach an image (with its partitions), mount, detach.
import { existsSync } from "node:fs";
import { readFile, rm } from "node:fs/promises";
import { basename } from "node:path";
import { mustRun, run } from "./harness.js";
import { requireTools } from "./tools.js";

/** An attached loop device; detach() unmounts what was mounted and frees it. */
export interface LoopDevice {
  readonly path: string;
  /** Partition N's node, /dev/loopXpN. */
  partition(n: number): string;
  mount(dir: string): Promise<void>;
  detach(): Promise<void>;
}

/** Attach `image` to a free loop device with its partitions (partx), creating their nodes if needed. */
export async function attachLoop(image: string): Promise<LoopDevice> {
  await requireTools("losetup", "mount", "umount", "partx", "mknod");
  const path = (await mustRun("losetup", ["--find", "--show", image])).stdout.trim();
  const mounts: string[] = [];
  const nodes: string[] = [];
  // partx adds the partitions with BLKPG, synchronously (a partition scan would be asynchronous).
  await run("partx", ["--add", path]);
  const name = basename(path);
  for (let n = 1; n <= 8; n++) {
    const dev = await readFile(`/sys/block/${name}/${name}p${n}/dev`, "utf8").catch(() => undefined);
    const node = `${path}p${n}`;
    // Without udev (containers) nobody creates the partition nodes: make them, and remove them after.
    if (dev && !existsSync(node)) {
      const [major, minor] = dev.trim().split(":");
      await mustRun("mknod", [node, "b", major!, minor!]);
      nodes.push(node);
    }
  }
  return {
    path,
    partition: (n) => `${path}p${n}`,
    async mount(dir) {
      await mustRun("mount", [path, dir]);
      mounts.push(dir);
    },
    async detach() {
      for (const dir of mounts.splice(0).reverse()) await run("umount", [dir]);
      await run("partx", ["--delete", path]);
      await run("losetup", ["--detach", path]);
      for (const node of nodes.splice(0)) await rm(node, { force: true });
    },
  };
}

/** Write an MBR partition table with partitions of the given sizes (sfdisk size syntax, e.g. "20M"). */
export async function partition(image: string, sizes: readonly string[]): Promise<void> {
  await requireTools("sfdisk");
  const script = ["label: dos", ...sizes.map((s) => `,${s},83`)].join("\n") + "\n";
  await mustRun("sfdisk", ["--quiet", image], { input: script });
}
