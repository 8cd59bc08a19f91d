// Test-only fixture: a RemappedDevice over MemoryDevices (main behind a FaultyDevice, everything
// behind VolatileDevice write caches) on a MemoryMetadataStore, with reopen() for restarts and crashes.
import { LayerDevice } from "../../block/base-device.js";
import type { BlockDevice } from "../../block/block-device.js";
import { MemoryDevice } from "../../block/memory-device.js";
import type { RemapEvents } from "../remap-events.js";
import type { RemapPolicy } from "../remap-policy.js";
import { openRemappedDevice, type RemappedDevice } from "../remapped-device.js";
import { FaultyDevice } from "./faulty-device.js";
import {
  createMemorySet,
  reopenMemorySet,
  type MemoryDurable,
  type MemoryMetadataStore,
} from "./memory-store.js";
import { VirtualClock } from "./virtual-clock.js";
import { VolatileDevice } from "./volatile-device.js";

/** Options of makeRig. */
export interface RigOptions {
  readonly blockSize?: number;
  readonly blocks?: number;
  readonly spareSlots?: readonly number[];
  readonly policy?: Partial<RemapPolicy>;
  readonly events?: RemapEvents;
  /** Time source (default: a fresh VirtualClock, so retry budgets cost no real time). */
  readonly clock?: VirtualClock;
  /** A layer put between the FaultyDevice on main and the remap layer (e.g. time-domain faults). */
  readonly wrapMain?: (main: BlockDevice, clock: VirtualClock) => BlockDevice;
}

/** A device under test plus handles on every layer below it. */
export interface Rig {
  dev: RemappedDevice;
  store: MemoryMetadataStore;
  main: FaultyDevice;
  mainCache: VolatileDevice;
  spareCaches: VolatileDevice[];
  readonly durable: MemoryDurable;
  readonly blockSize: number;
  /** The virtual time of the remap layer. */
  readonly clock: VirtualClock;
  /** Open a new device on the same durable state and media (after close or crash); fault rules reset. */
  reopen(options?: { policy?: Partial<RemapPolicy>; events?: RemapEvents }): RemappedDevice;
  /** Lose every unflushed write of main and spares. */
  crash(): void;
}

/** Keeps the media alive when the stack above is closed, so a test can reopen it. */
export class KeepOpenDevice extends LayerDevice {
  readonly name = "keep-open";
  protected override async _close(): Promise<void> {}
  describe(): string {
    return this.lower.describe();
  }
}

/** Build a rig (default: 4 KiB blocks, 64 blocks, one spare of 16 slots). */
export function makeRig(options: RigOptions = {}): Rig {
  const blockSize = options.blockSize ?? 4096;
  const blocks = options.blocks ?? 64;
  const spareSlots = options.spareSlots ?? [16];
  const { durable, opened } = createMemorySet({ blockSize, mainSizeBytes: blocks * blockSize, spareSlots });
  const mainMedia = new MemoryDevice({ sizeBytes: blocks * blockSize, name: "main-media" });
  const spareMedia = durable.identity.spares.map(
    (s) => new MemoryDevice({ sizeBytes: s.sizeBytes, name: `spare${s.index}-media` }),
  );
  const layers = () => {
    const mainCache = new VolatileDevice(new KeepOpenDevice(mainMedia), "main-cache");
    const spareCaches = spareMedia.map(
      (m: BlockDevice, i) => new VolatileDevice(new KeepOpenDevice(m), `spare${i}-cache`),
    );
    return { mainCache, spareCaches, main: new FaultyDevice(mainCache, "main") };
  };
  const first = layers();
  const clock = options.clock ?? new VirtualClock();
  const rig: Rig = {
    ...first,
    dev: openRemappedDevice({
      main: options.wrapMain ? options.wrapMain(first.main, clock) : first.main,
      spares: first.spareCaches,
      opened,
      policy: options.policy,
      events: options.events,
      clock,
    }),
    store: opened.store as MemoryMetadataStore,
    durable,
    blockSize,
    clock,
    reopen(again = {}) {
      const next = reopenMemorySet(durable);
      Object.assign(rig, layers());
      rig.store = next.store;
      rig.dev = openRemappedDevice({
        main: options.wrapMain ? options.wrapMain(rig.main, clock) : rig.main,
        spares: rig.spareCaches,
        opened: next,
        policy: again.policy ?? options.policy,
        events: again.events,
        clock,
      });
      return rig.dev;
    },
    crash() {
      rig.mainCache.crash();
      for (const s of rig.spareCaches) s.crash();
    },
  };
  return rig;
}

/** Bytes filled with a pattern derived from `seed` (distinct per seed). */
export function pattern(lengthBytes: number, seed: number): Uint8Array {
  const out = new Uint8Array(lengthBytes);
  for (let i = 0; i < lengthBytes; i++) out[i] = (seed * 31 + i * 7 + (i >> 8)) & 0xff;
  return out;
}
