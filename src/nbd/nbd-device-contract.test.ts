// The shared block-device contract suite run on the NBD client device, served by this NBD server
// over a MemoryDevice (read-only cases through a read-only client).
import { runBlockDeviceContract } from "../block/contract.js";
import { openNbdDevice } from "./nbd-client-device.js";
import { startTestServer } from "./test-support.js";

async function subject(readOnly: boolean) {
  const ts = await startTestServer({ sizeBytes: 4 << 20 });
  const device = await openNbdDevice(`nbd+unix:///disk?socket=${ts.path}`, { readOnly });
  return { device, cleanup: () => ts.stop() };
}

runBlockDeviceContract("nbd client over the dmremap NBD server", () => subject(false), {
  readOnlyFactory: () => subject(true),
});
