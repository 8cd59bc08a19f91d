// The block-device contract run against the test layers of the remap tests: with no fault armed,
// FaultyDevice and VolatileDevice must behave like any device, so what the remap tests prove holds.
import { runBlockDeviceContract } from "../../block/contract.js";
import { MemoryDevice } from "../../block/memory-device.js";
import { FaultyDevice } from "./faulty-device.js";
import { VolatileDevice } from "./volatile-device.js";

const MiB = 1 << 20;

runBlockDeviceContract("FaultyDevice with no broken block", async () => ({
  device: new FaultyDevice(new MemoryDevice({ sizeBytes: MiB })),
}));

runBlockDeviceContract("VolatileDevice (write cache over memory)", async () => ({
  device: new VolatileDevice(new MemoryDevice({ sizeBytes: MiB })),
}));
