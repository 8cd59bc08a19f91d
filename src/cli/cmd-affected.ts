// `dmremap affected [TARGET] --fs ext4 --image PATH`: which files and filesystem metadata the set's
// pending blocks and lost sectors hit (e2fsprogs debugfs icheck / ncheck on the image or device).
import { affectedExt4 } from "../formats/affected.js";
import { boolOpt, stringOpt, type Command } from "./command.js";
import { bytesOpt, loadState, STATE_OPTIONS } from "./cmd-export.js";
import { UsageError } from "./errors.js";
import { JSON_OPTION } from "./offline.js";

export const affectedCommand: Command = {
  name: "affected",
  summary: "list the files and filesystem metadata that pending blocks and lost sectors hit (ext2/3/4)",
  args: "[TARGET]",
  options: {
    ...STATE_OPTIONS,
    ...JSON_OPTION,
    fs: { type: "string", value: "TYPE", help: "filesystem type (ext4, also ext2/ext3)", default: "ext4" },
    image: {
      type: "string",
      value: "PATH",
      help: "the filesystem's device or image: the exported device (/dev/nbd0), an nbdfuse file or a copy",
    },
    offset: {
      type: "string",
      value: "BYTES",
      help: "the filesystem starts at this byte of main (partition start)",
      default: "0",
    },
  },
  details: [
    "Reads the filesystem through --image with dumpe2fs and debugfs (read-only). Blocks that read EIO on",
    "the exported device may stop debugfs; a rescued copy (ddrescue) of the device always works.",
    "  dmremap affected disk0 --image /dev/nbd0 --offset 1M",
  ].join("\n"),
  async run(ctx) {
    const fs = stringOpt(ctx, "fs") ?? "ext4";
    if (!["ext2", "ext3", "ext4"].includes(fs))
      throw new UsageError(`--fs ${fs} is not supported (ext2, ext3, ext4)`);
    const image = stringOpt(ctx, "image");
    if (!image) throw new UsageError("give the filesystem's device or image with --image PATH");
    if (ctx.positionals.length > 1) throw new UsageError("give at most one TARGET");
    const offsetBytes = bytesOpt(ctx, "offset", 0);
    const target = ctx.positionals[0];
    const values = target ? { ...ctx.values, target } : ctx.values;
    const { state } = await loadState({ ...ctx, values });
    const { layout, blocks } = await affectedExt4(state, image, offsetBytes);
    if (boolOpt(ctx, "json")) {
      ctx.out.write(JSON.stringify({ fsBlockSize: layout.blockSize, offsetBytes, blocks }, null, 2) + "\n");
      return 0;
    }
    if (blocks.length === 0) {
      ctx.out.write("no pending block or lost sector lies inside the filesystem\n");
      return 0;
    }
    const rows = blocks.map((b) => [
      String(b.fsBlock),
      `${b.cause} (block ${b.block})`,
      b.inode === null ? "-" : String(b.inode),
      b.metadata
        ? `[metadata: ${b.metadata}]${b.paths.length ? " " + b.paths.join(", ") : ""}`
        : b.paths.join(", ") || (b.inode === null ? "(free)" : "(no path)"),
    ]);
    const head = ["FS-BLOCK", "CAUSE", "INODE", "PATH"];
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    for (const r of [head, ...rows])
      ctx.out.write(r.map((c, i) => (i < 3 ? c.padEnd(widths[i]!) : c)).join("  ") + "\n");
    ctx.out.write(`filesystem block size ${layout.blockSize}, starting at byte ${offsetBytes} of main\n`);
    return 0;
  },
};
