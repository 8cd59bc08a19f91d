// The shared block-device contract suite run on the NBD client device with nbdkit as the remote.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runBlockDeviceContract } from "../../src/block/contract.js";
import { openNbdDevice } from "../../src/nbd/nbd-client-device.js";
import { startNbdkit, waitForSocket } from "./nbd-support.js";

async function subject(readOnly: boolean) {
  const dir = mkdtempSync(join(tmpdir(), "nbdkit-contract-"));
  const sock = join(dir, "kit.sock");
  const kit = startNbdkit(sock, ["memory", "4M"]);
  await waitForSocket(sock, kit.exited);
  const device = await openNbdDevice(`nbd+unix:///?socket=${sock}`, { readOnly });
  return {
    device,
    cleanup: async () => {
      await kit.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

runBlockDeviceContract("nbd client over nbdkit memory", () => subject(false), {
  readOnlyFactory: () => subject(true),
});
