// The shared block-device contract suite, run on RemappedDevice: without remaps (pass-through), with
// many remapped blocks and failing main blocks (split path), and opened read-only.
import { MemoryDevice } from "../block/memory-device.js";
import { runBlockDeviceContract } from "../block/contract.js";
import { openRemappedDevice } from "./remapped-device.js";
import { createMemorySet } from "./testing/memory-store.js";
import { makeRig } from "./testing/rig.js";

const BS = 4096;
const BLOCKS = 256; // 1 MiB

runBlockDeviceContract("RemappedDevice (no remaps)", async () => ({
  device: makeRig({ blocks: BLOCKS }).dev,
}));

runBlockDeviceContract(
  "RemappedDevice (remapped and failing blocks)",
  async () => {
    const rig = makeRig({ blocks: BLOCKS, spareSlots: [64, 64] });
    for (let b = 0; b < BLOCKS; b += 7) await rig.dev.remapBlock(b);
    for (let b = 3; b < BLOCKS; b += 11) rig.main.breakBlock(b, BS, { writes: true });
    return { device: rig.dev };
  },
  {
    seed: 2,
    readOnlyFactory: async () => {
      const { opened } = createMemorySet({ blockSize: BS, mainSizeBytes: BLOCKS * BS, spareSlots: [4] });
      const device = openRemappedDevice({
        main: new MemoryDevice({ sizeBytes: BLOCKS * BS }),
        spares: [new MemoryDevice({ sizeBytes: 5 * BS })],
        opened: { ...opened, readOnlyReason: "test" },
      });
      return { device };
    },
  },
);
