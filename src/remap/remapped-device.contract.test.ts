// The shared block-device contract suite, run on RemappedDevice: without remaps (pass-through), with
// many remapped blocks and failing main blocks (split path), and opened read-only; and on the write
// fence over main alone (its fast path leaves range and read-only checks to the device below).
import type { BlockDevice } from "../block/block-device.js";
import { MemoryDevice } from "../block/memory-device.js";
import { ReadOnlyDevice } from "../block/read-only-device.js";
import { runBlockDeviceContract } from "../block/contract.js";
import { FencedMain } from "./fenced-main.js";
import { systemClock } from "./remap-clock.js";
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

const fenced = (lower: BlockDevice) =>
  new FencedMain(lower, { writeTimeoutMs: 0, blockSize: BS, clock: systemClock() });

runBlockDeviceContract(
  "FencedMain over memory",
  async () => ({ device: fenced(new MemoryDevice({ sizeBytes: 4 << 20 })) }),
  {
    readOnlyFactory: async () => ({
      device: fenced(new ReadOnlyDevice(new MemoryDevice({ sizeBytes: 4 << 20 }))),
    }),
  },
);
