// `dmremap create`: format spares with a new set's metadata.
import { boolOpt, parseIntArg, stringOpt, stringsOpt, type Command } from "./command.js";
import { UsageError } from "./errors.js";
import { openStack } from "../daemon/stack.js";
import { targetStatus } from "../daemon/control-target.js";
import { parseSize } from "../block/size.js";

export const createCommand: Command = {
  name: "create",
  summary: "create a new set: write metadata to the spares (main is not written)",
  options: {
    main: { type: "string", value: "DEV", help: "main device spec (required)" },
    spare: { type: "string", multiple: true, value: "DEV", help: "spare device spec (at least one)" },
    "block-size": {
      type: "string",
      value: "N",
      help: "remap unit: power of two 512..65536",
      default: "4096",
    },
    name: { type: "string", value: "NAME", help: "name of the set", default: "dmremap" },
    force: {
      type: "boolean",
      help: "overwrite spares that hold a filesystem, partition table, LVM, md, LUKS, swap or an idle dmremap set",
    },
    mirror: {
      type: "string",
      value: "N",
      help: "copies of every remapped block: 1, or 2 on two different spares (needs 2 spares)",
      default: "1",
    },
    json: { type: "boolean", help: "print the new set's status as JSON" },
  },
  details: `examples:
  dmremap create --main /dev/sdb --spare /dev/sdc1
  dmremap create --main slice:length=900G:/dev/sdb --spare slice:offset=900G:/dev/sdb --block-size 4096
  dmremap create --main /dev/sdb --spare /dev/sdc1 --spare /dev/sdd1 --mirror 2
--mirror 2 writes every remapped block to two slots on two different spares (each flushed before
the remap commits), so losing one spare loses no remapped data; it needs at least 2 spares and is
recorded in the set's metadata (see OPERATIONS.md "Mirrored spares").
Refused: a spare that overlaps the main or another spare (same file, same disk range); a spare that
holds a recognisable signature (without --force); a device that is mounted or in use; a set that a
running daemon serves (even with --force).`,
  async run(ctx) {
    const main = stringOpt(ctx, "main");
    if (!main) throw new UsageError("create needs --main DEV");
    const spares = stringsOpt(ctx, "spare");
    if (spares.length === 0) throw new UsageError("create needs at least one --spare DEV");
    const blockSizeText = stringOpt(ctx, "block-size") ?? "4096";
    let blockSize: number;
    try {
      blockSize = parseSize(blockSizeText);
    } catch {
      throw new UsageError(`--block-size "${blockSizeText}" is not a size`);
    }
    parseIntArg("--block-size", String(blockSize), 512, 65536);
    const name = stringOpt(ctx, "name") ?? "dmremap";
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) {
      throw new UsageError(`--name "${name}" must be 1-64 characters of A-Z a-z 0-9 _ . -`);
    }
    const mirrorText = stringOpt(ctx, "mirror") ?? "1";
    if (mirrorText !== "1" && mirrorText !== "2")
      throw new UsageError(`--mirror "${mirrorText}" must be 1 or 2 (copies of every remapped block)`);
    if (mirrorText === "2" && spares.length < 2)
      throw new UsageError(
        `--mirror 2 needs at least 2 --spare devices (${spares.length} given): each copy lives on a different spare`,
      );
    const mirrorCopies = mirrorText === "2" ? 2 : 1;
    const target = await openStack(
      { name, main, spares, blockSize, force: boolOpt(ctx, "force"), mirrorCopies },
      { mode: "create" },
    );
    try {
      const status = targetStatus(target);
      if (boolOpt(ctx, "json")) ctx.out.write(JSON.stringify(status, null, 2) + "\n");
      else {
        ctx.out.write(
          `created set "${status.name}" (uuid ${status.uuid}): ${status.sizeBytes} bytes, block size ${status.blockSize}, ` +
            `${status.spare.totalBlocks} spare slots on ${spares.length} spare(s)` +
            `${mirrorCopies === 2 ? ", mirrored (2 copies of every remapped block)" : ""}\n`,
        );
      }
    } finally {
      await target.close();
    }
    return 0;
  },
};
