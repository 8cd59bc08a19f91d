// Runs the block-device contract suite against every device and layer of this folder.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runBlockDeviceContract, type ContractSubject } from "./contract.js";
import { FaultDevice } from "./fault-device.js";
import { FileDevice } from "./file-device.js";
import { MemoryDevice } from "./memory-device.js";
import { openDevice } from "./open-device.js";
import { SliceDevice } from "./slice-device.js";

const MiB = 1 << 20;

async function tempFile(): Promise<{ path: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "dmremap-contract-"));
  return { path: join(dir, "dev.img"), cleanup: () => rm(dir, { recursive: true, force: true }) };
}

runBlockDeviceContract("MemoryDevice", async () => ({ device: new MemoryDevice({ sizeBytes: MiB }) }));

runBlockDeviceContract(
  "FileDevice",
  async (): Promise<ContractSubject> => {
    const { path, cleanup } = await tempFile();
    return { device: await FileDevice.create(path, MiB), cleanup };
  },
  {
    readOnlyFactory: async () => {
      const { path, cleanup } = await tempFile();
      await (await FileDevice.create(path, MiB)).close();
      return { device: await FileDevice.open(path, { readOnly: true }), cleanup };
    },
  },
);

runBlockDeviceContract("SliceDevice", async () => {
  const lower = new MemoryDevice({ sizeBytes: 3 * MiB });
  return { device: new SliceDevice(lower, { offsetBytes: 65536 + 512, lengthBytes: MiB }) };
});

runBlockDeviceContract("FaultDevice without rules", async () => ({
  device: new FaultDevice(new MemoryDevice({ sizeBytes: MiB })),
}));

runBlockDeviceContract("FaultDevice with rules that never fire", async () => {
  const lower = new MemoryDevice({ sizeBytes: MiB });
  const device = new FaultDevice(lower, {
    now: () => 0,
    sleep: async () => {},
    rules: [
      { kind: "dust", blocks: [], heal: true },
      { kind: "flakey", up: 3_600_000, down: 1000, modes: ["drop-writes"] },
      { kind: "random", read: 0, write: 0, flush: 0, seed: 7 },
      { kind: "delay", read: 5, write: 5 },
    ],
  });
  return { device };
});

runBlockDeviceContract("openDevice(mem:1M)", async () => ({ device: await openDevice("mem:1M") }), {
  readOnlyFactory: async () => ({ device: await openDevice("mem:1M", { readOnly: true }) }),
});

runBlockDeviceContract("openDevice(slice + fault wrappers over a file)", async () => {
  const { path, cleanup } = await tempFile();
  const spec = `random:read=0,seed=3:slice:offset=512K,length=1M:dust:block-size=4K:file:${path}`;
  return { device: await openDevice(spec, { create: { sizeBytes: 2 * MiB } }), cleanup };
});
