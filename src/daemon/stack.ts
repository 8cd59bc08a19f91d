// The one place where a target's device stack is built, bottom-up: leaf devices from specs ->
// optional fault layer over main -> metadata opened from the spares -> RemappedDevice on top.
import type { BlockDevice } from "../block/block-device.js";
import { FaultDevice } from "../block/fault-device.js";
import type { FaultRuleConfig } from "../block/fault-rules.js";
import { faultLayers, openDevice } from "../block/open-device.js";
import { SpecError } from "../block/errors.js";
import { createSet } from "../metadata/create-set.js";
import { identifySpares } from "../metadata/identify-spares.js";
import type { OpenedSet, SetIdentity } from "../metadata/metadata-store.js";
import { openSet } from "../metadata/open-set.js";
import type { RemapEvents } from "../remap/remap-events.js";
import type { RemapPolicy } from "../remap/remap-policy.js";
import { openRemappedDevice, type RemappedDevice } from "../remap/remapped-device.js";
import { lockSet, type SetLock } from "./set-lock.js";

/** Everything needed to assemble one target. */
export interface TargetDefinition {
  readonly name: string;
  /** Main device spec; default: the spec recorded in the set's superblock at create time. */
  readonly main?: string;
  readonly spares: readonly string[];
  readonly policy?: Partial<RemapPolicy>;
  /**
   * Put a fault layer over main with these rules, controllable at runtime (test setups and demos).
   * An empty list still adds the layer so rules can be added later.
   */
  readonly faults?: readonly FaultRuleConfig[];
  /** Inspection: open every device read-only and report metadata copies as found (no lock taken). */
  readonly readOnly?: boolean;
  /** Rewrite stale or corrupt metadata copies on open (default true). */
  readonly repair?: boolean;
}

/** A built stack. close() closes it top-down (checkpoint, then every device). */
export interface AssembledTarget {
  readonly device: RemappedDevice;
  readonly main: BlockDevice;
  /** Spares in set order. */
  readonly spares: readonly BlockDevice[];
  /** The runtime-controllable fault layer over main, when the target has one. */
  readonly faults?: FaultDevice;
  readonly opened: OpenedSet;
  close(): Promise<void>;
}

async function closeAll(devices: readonly (BlockDevice | undefined)[]): Promise<void> {
  await Promise.allSettled(devices.map((d) => d?.close()));
}

/** Open spare specs, in the given order. Closes what was opened if one fails. */
export async function openSpareDevices(specs: readonly string[], readOnly = false): Promise<BlockDevice[]> {
  if (specs.length === 0) throw new SpecError("", "at least one spare device is needed (--spare DEV)");
  const opened: BlockDevice[] = [];
  try {
    for (const spec of specs) opened.push(await openDevice(spec, { readOnly }));
  } catch (err) {
    await closeAll(opened);
    throw err;
  }
  return opened;
}

/** Open the main spec and, if asked, wrap it in a runtime-controllable fault layer. */
async function openMain(
  spec: string,
  def: TargetDefinition,
): Promise<{ main: BlockDevice; faults?: FaultDevice }> {
  const base = await openDevice(spec, { readOnly: def.readOnly ?? false });
  if (!def.faults) return { main: base, ...firstFaultLayer(base) };
  const faults = new FaultDevice(base, { rules: def.faults });
  return { main: faults, faults };
}

function firstFaultLayer(device: BlockDevice): { faults?: FaultDevice } {
  const layer = faultLayers(device)[0];
  return layer ? { faults: layer } : {};
}

/** Open an existing set and build its RemappedDevice. */
export async function assembleTarget(
  def: TargetDefinition,
  options: { events?: RemapEvents } = {},
): Promise<AssembledTarget> {
  const spareDevices = await openSpareDevices(def.spares, def.readOnly);
  let main: BlockDevice | undefined;
  let lock: SetLock | undefined;
  try {
    const { identity, members } = await identifySpares(spareDevices);
    const ordered = new Array<BlockDevice>(identity.spares.length);
    for (const m of members) ordered[m.spareIndex] = m.device;
    const mainSpec = def.main ?? identity.mainSpec;
    if (!mainSpec) {
      throw new SpecError("", `set "${identity.name}" records no main device: give it with --main DEV`);
    }
    if (!def.readOnly) lock = await lockSet(identity.uuid, identity.name);
    const opened_main = await openMain(mainSpec, def);
    main = opened_main.main;
    const opened = await openSet({
      spares: spareDevices,
      main,
      repair: def.repair ?? true,
      ...(def.readOnly ? { inspect: true } : {}),
    });
    if (ordered.some((d) => d === undefined)) {
      const missing = identity.spares.filter((s) => !ordered[s.index]).map((s) => s.index);
      throw new SpecError("", `set "${identity.name}": spare(s) ${missing.join(", ")} missing`);
    }
    const device = openRemappedDevice({
      main,
      spares: ordered,
      opened,
      ...(def.policy ? { policy: def.policy } : {}),
      ...(options.events ? { events: options.events } : {}),
    });
    return {
      device,
      main,
      spares: ordered,
      ...(opened_main.faults ? { faults: opened_main.faults } : {}),
      opened,
      close: async () => {
        try {
          await device.close();
        } finally {
          await lock?.release();
        }
      },
    };
  } catch (err) {
    await closeAll([main, ...spareDevices]);
    await lock?.release();
    throw err;
  }
}

/** Create a new set (main + blank spares), then assemble it. */
export async function createTarget(
  def: TargetDefinition & { readonly main: string; readonly blockSize: number; readonly force?: boolean },
  options: { events?: RemapEvents; createMainBytes?: number; createSpareBytes?: number } = {},
): Promise<AssembledTarget> {
  const main = await openDevice(def.main, {
    ...(options.createMainBytes ? { create: { sizeBytes: options.createMainBytes } } : {}),
  });
  const spares: BlockDevice[] = [];
  try {
    for (const spec of def.spares) {
      spares.push(
        await openDevice(spec, {
          ...(options.createSpareBytes ? { create: { sizeBytes: options.createSpareBytes } } : {}),
        }),
      );
    }
    const opened = await createSet({
      main,
      spares,
      blockSize: def.blockSize,
      name: def.name,
      mainSpec: def.main,
      ...(def.force ? { force: true } : {}),
    });
    await opened.store.close();
  } finally {
    await closeAll([main, ...spares]);
  }
  return assembleTarget(def, options);
}

/** Read a set's identity from its spares (read-only, nothing repaired). */
export async function readSetIdentity(spareSpecs: readonly string[]): Promise<SetIdentity> {
  const devices = await openSpareDevices(spareSpecs, true);
  try {
    return (await identifySpares(devices)).identity;
  } finally {
    await closeAll(devices);
  }
}
