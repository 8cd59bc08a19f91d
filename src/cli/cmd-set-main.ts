// `dmremap set-main`: record a deliberate change of the main device (its data copied to a new disk),
// so that opens stop refusing the new device. The only way to change the recorded main identity.
import { identityText } from "../block/device-identity.js";
import { openStack, recordMainIdentity } from "../daemon/stack.js";
import { boolOpt, stringOpt, stringsOpt, type Command } from "./command.js";
import { UsageError } from "./errors.js";

export const setMainCommand: Command = {
  name: "set-main",
  summary: "record that the set's main device is now NEWDEV (after copying main to a new disk)",
  options: {
    spare: { type: "string", multiple: true, value: "DEV", help: "a spare device of the set (all of them)" },
    main: { type: "string", value: "NEWDEV", help: "the new main device spec (required)" },
    json: { type: "boolean", help: "print the recorded identities as JSON" },
  },
  details: `Every open (serve, status, list, check ...) refuses a main device whose identity (WWN / serial
for disks, device + inode for files, URI for NBD) is not the one recorded at create time. After
copying the main's data to another device, run this once (the set must not be served); the change
is one metadata checkpoint. Then serve with --main NEWDEV (or main = "NEWDEV" in the config).
example:
  dmremap set-main --spare /dev/sdc1 --main /dev/disk/by-id/wwn-0x5000c500a1b2c3d4`,
  async run(ctx) {
    const spares = stringsOpt(ctx, "spare");
    if (spares.length === 0) throw new UsageError("set-main needs the set's spares: --spare DEV");
    const main = stringOpt(ctx, "main");
    if (!main) throw new UsageError("set-main needs the new main device: --main NEWDEV");
    const stack = await openStack({ name: "set-main", spares, main }, { mode: "serve", acceptNewMain: true });
    try {
      const before = stack.opened.mainIdentity;
      await recordMainIdentity(stack);
      const after = stack.mainIdentity!;
      if (boolOpt(ctx, "json")) {
        ctx.out.write(JSON.stringify({ previous: before ?? null, recorded: after }, null, 2) + "\n");
      } else {
        ctx.out.write(
          `main of set "${stack.opened.store.identity.name}" recorded as ${identityText(after)}` +
            `${before ? ` (was ${identityText(before)})` : ""}\n`,
        );
      }
    } finally {
      await stack.close();
    }
    return 0;
  },
};
