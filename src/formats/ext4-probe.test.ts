// Readers of e2fsprogs output (recorded from e2fsprogs 1.47): dumpe2fs layout, debugfs icheck / ncheck.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { badFsBlocks } from "./affected.js";
import { ProbeError } from "./errors.js";
import { deviceName, parseDumpe2fs, parseIcheck, parseNcheck } from "./ext4-probe.js";

const DUMPE2FS = `Filesystem volume name:   <none>
Block count:              7168
First block:              1
Block size:               1024
Journal inode:            8


Group 0: (Blocks 1-7167) csum 0x2ce2 [ITABLE_ZEROED]
  Primary superblock at 1, Group descriptors at 2-2
  Reserved GDT blocks at 3-57
  Block bitmap at 58 (+57), csum 0x33e0a0ce
  Inode bitmap at 74 (+73), csum 0xa70579e2
  Inode table at 90-537 (+89)
  5499 free blocks, 1777 free inodes, 3 directories, 1777 unused inodes
  Free blocks: 1669-7167
Group 1: (Blocks 8193-16384) [INODE_UNINIT, ITABLE_ZEROED]
  Backup superblock at 8193, Group descriptors at 8194-8194
  Block bitmap at 59 (bg #0 + 58), csum 0x00000000
  Inode bitmap at 75 (bg #0 + 74), csum 0x00000000
  Inode table at 538-985 (bg #0 + 537)
`;

describe("e2fsprogs readers", () => {
  it("reads the layout and every metadata extent of dumpe2fs", () => {
    const layout = parseDumpe2fs(DUMPE2FS);
    assert.equal(layout.blockSize, 1024);
    assert.equal(layout.blockCount, 7168);
    assert.equal(layout.firstDataBlock, 1);
    assert.deepEqual(
      layout.metadata.map((m) => `${m.group}:${m.what}:${m.firstBlock}-${m.lastBlock}`),
      [
        "0:superblock:1-1",
        "0:group descriptors:2-2",
        "0:reserved GDT blocks:3-57",
        "0:block bitmap:58-58",
        "0:inode bitmap:74-74",
        "0:inode table:90-537",
        "1:superblock:8193-8193",
        "1:group descriptors:8194-8194",
        "1:block bitmap:59-59",
        "1:inode bitmap:75-75",
        "1:inode table:538-985",
      ],
    );
    assert.throws(() => parseDumpe2fs("Bad magic number in super-block\n"), ProbeError);
  });

  it("reads icheck and ncheck (hard links, doubled slashes)", () => {
    const icheck = parseIcheck(
      "debugfs: icheck 3 300 1500\nBlock\tInode number\n3\t7\n300\t<block not found>\n1500\t8\n",
    );
    assert.deepEqual(
      [...icheck],
      [
        [3, 7],
        [300, null],
        [1500, 8],
      ],
    );
    const ncheck = parseNcheck(
      "debugfs: ncheck 12 13\nInode\tPathname\n12\t//a.txt\n13\t/docs/b\n13\t/docs/b-link\n",
    );
    assert.deepEqual(
      [...ncheck],
      [
        [12, ["/a.txt"]],
        [13, ["/docs/b", "/docs/b-link"]],
      ],
    );
  });

  it("names a filesystem inside an image with e2fsprogs' offset option", () => {
    assert.equal(deviceName("/x/main.img", 0), "/x/main.img");
    assert.equal(deviceName("/x/main.img", 1048576), "/x/main.img?offset=1048576");
  });

  it("maps pending blocks and lost sectors to filesystem blocks inside the filesystem only", () => {
    const state = {
      blockSize: 4096,
      sizeBytes: 1 << 20,
      remapped: [{ block: 9, spare: 0, spareOffsetBytes: 0, lostSectors: [3] }],
      pending: [0, 2],
      suspects: [],
    };
    // The filesystem starts at 8192 (block 2) and has 1024-byte blocks.
    assert.deepEqual(badFsBlocks(state, 1024, 8192, 1000), [
      { fsBlock: 0, cause: "pending", block: 2 },
      { fsBlock: 1, cause: "pending", block: 2 },
      { fsBlock: 2, cause: "pending", block: 2 },
      { fsBlock: 3, cause: "pending", block: 2 },
      { fsBlock: 29, cause: "lost-sectors", block: 9 },
    ]);
  });
});
