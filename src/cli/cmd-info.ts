// `dmremap info SPEC`: open a device spec and show what it is (checks a spec before using it).
import { openDevice } from "../block/open-device.js";
import "../nbd/nbd-client-device.js"; // registers the nbd:// and nbd+unix:// device opener
import { boolOpt, type Command } from "./command.js";
import { UsageError } from "./errors.js";

export const infoCommand: Command = {
  name: "info",
  summary: "open a device spec read-only and print its size and capabilities",
  args: "SPEC",
  options: { json: { type: "boolean", help: "print JSON" } },
  details: "example:\n  dmremap info 'dust:block=5:mem:1G'\nSpec syntax: docs/DEVICE-SPECS.md",
  async run(ctx) {
    if (ctx.positionals.length !== 1) throw new UsageError("info needs exactly one device SPEC");
    const device = await openDevice(ctx.positionals[0]!, { readOnly: true });
    try {
      const info = {
        spec: device.describe(),
        sizeBytes: device.sizeBytes,
        logicalBlockSize: device.logicalBlockSize,
        capabilities: device.capabilities,
      };
      if (boolOpt(ctx, "json")) ctx.out.write(JSON.stringify(info, null, 2) + "\n");
      else {
        const caps = Object.entries(info.capabilities)
          .filter(([, v]) => v)
          .map(([k]) => k);
        ctx.out.write(
          `${info.spec}: ${info.sizeBytes} bytes, logical block ${info.logicalBlockSize}, ${caps.join(" ")}\n`,
        );
      }
    } finally {
      await device.close();
    }
    return 0;
  },
};
