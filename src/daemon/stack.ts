// The one place where a set's device stack is built, bottom-up, for every use (openStack's modes):
// layout checks (overlap) -> leaf devices from specs -> fault layer over main -> spare superblocks
// read once -> set lock -> metadata opened -> RemappedDevice on top.
import type { BlockDevice } from "../block/block-device.js";
import { FaultDevice } from "../block/fault-device.js";
import type { FaultRuleConfig } from "../block/fault-rules.js";
import { faultLayers, openDevice } from "../block/open-device.js";
import { SignatureFoundError, SpecError } from "../block/errors.js";
import { assertNoOverlap, resolveRegions, type Region, type ResolveEnv } from "../block/overlap.js";
import { probeSignatures } from "../block/signature-probe.js";
import { ReplaceTee } from "../block/replace-tee.js";
import {
  identityMismatch,
  identityText,
  probeDeviceIdentity,
  type DeviceIdentity,
} from "../block/device-identity.js";
import { createSet } from "../metadata/create-set.js";
import { identifySpares, type Identified } from "../metadata/identify-spares.js";
import type { OpenedSet, SetIdentity } from "../metadata/metadata-store.js";
import { checkSet, openSet, type CheckReport } from "../metadata/open-set.js";
import { scanSuperblocks } from "../metadata/scan-copy.js";
import { SpareStore } from "../metadata/spare-store.js";
import "../nbd/nbd-client-device.js"; // registers the nbd:// and nbd+unix:// device opener
import type { RemapEvents } from "../remap/remap-events.js";
import type { RemapPolicy } from "../remap/remap-policy.js";
import { openRemappedDevice, type RemappedDevice } from "../remap/remapped-device.js";
import { withMissingSpares } from "../remap/set-devices.js";
import { lockSet, type SetLock } from "./set-lock.js";

/**
 * What a stack is opened for:
 * - serve: read-write, block devices O_EXCL, set locked, stale copies repaired, layout checked;
 * - inspect: read-only, nothing written, no lock (status, list of an idle set);
 * - check: the spares only, every metadata copy verified (repaired with `repair`, under the lock);
 * - create: like serve, after writing a new set to blank spares (signatures refused unless force).
 */
export type StackMode = "serve" | "inspect" | "check" | "create";

/** Everything needed to open one set. */
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
  /** create: remap unit of the new set. */
  readonly blockSize?: number;
  /** create: overwrite spares that carry a signature or dmremap metadata (never a set in use). */
  readonly force?: boolean;
  /** Create only: 2 keeps every remapped block on two different spares (see OPERATIONS.md "Mirrored spares"). */
  readonly mirrorCopies?: 1 | 2;
  /** create: sizes of main / spare files created when they do not exist. */
  readonly createMainBytes?: number;
  readonly createSpareBytes?: number;
}

/** Options of openStack. */
export interface StackOptions {
  readonly mode: StackMode;
  readonly events?: RemapEvents;
  /** check: rewrite stale or corrupt copies. */
  readonly repair?: boolean;
  /** Regions of other sets served by the same process (their devices must not overlap this one). */
  readonly otherRegions?: readonly Region[];
  /** Where overlap resolution learns about paths (tests inject a fake machine). */
  readonly resolveEnv?: ResolveEnv;
  /**
   * serve: accept a main whose identity differs from the recorded one (`set-main`, a deliberate
   * move to a new disk); the caller then records the new identity with recordMainIdentity().
   */
  readonly acceptNewMain?: boolean;
}

/** A built stack. close() closes it top-down (checkpoint, then every device). */
export interface AssembledTarget {
  readonly device: RemappedDevice;
  readonly main: BlockDevice;
  /** Spares in set order. */
  readonly spares: readonly BlockDevice[];
  /** The runtime-controllable fault layer over main, when the target has one. */
  readonly faults?: FaultDevice;
  /** The layer under the remap layer that mirrors to and swaps in a new main (`replace-main`); served stacks only. */
  readonly replaceTee?: ReplaceTee;
  readonly opened: OpenedSet;
  /** Identity of the main device as found at this open (absent for stacks built by hand in tests). */
  readonly mainIdentity?: DeviceIdentity;
  close(): Promise<void>;
}

/** The result of mode "check": the report, devices already closed. */
export interface CheckedStack {
  readonly report: CheckReport;
  /** The main device against the identity recorded in the set. */
  readonly main: MainCheck;
}

/** How the main device compares with the recorded identity: ok, the wrong device, or not checked. */
export interface MainCheck {
  readonly state: "ok" | "mismatch" | "unchecked";
  readonly spec?: string;
  readonly detail: string;
}

async function closeAll(devices: readonly (BlockDevice | undefined)[]): Promise<void> {
  await Promise.allSettled(devices.map((d) => d?.close()));
}

/** The byte regions a set uses: the main's exported range and each spare (metadata area + slots). */
export async function targetRegions(
  def: Pick<TargetDefinition, "name" | "main" | "spares">,
  env?: ResolveEnv,
): Promise<Region[]> {
  return resolveRegions(
    [
      ...(def.main ? [{ role: `main of set "${def.name}"`, spec: def.main }] : []),
      ...def.spares.map((spec, i) => ({ role: `spare ${i} of set "${def.name}"`, spec })),
    ],
    env,
  );
}

/** Open spare specs, in the given order. Closes what was opened if one fails. */
async function openSpareDevices(
  specs: readonly string[],
  options: { readOnly: boolean; createBytes?: number },
): Promise<BlockDevice[]> {
  if (specs.length === 0) throw new SpecError("", "at least one spare device is needed (--spare DEV)");
  const opened: BlockDevice[] = [];
  try {
    for (const spec of specs) {
      opened.push(
        await openDevice(spec, {
          readOnly: options.readOnly,
          exclusive: !options.readOnly,
          ...(options.createBytes ? { create: { sizeBytes: options.createBytes } } : {}),
        }),
      );
    }
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
  readOnly: boolean,
): Promise<{ main: BlockDevice; faults?: FaultDevice }> {
  const base = await openDevice(spec, {
    readOnly,
    exclusive: !readOnly,
    ...(def.createMainBytes ? { create: { sizeBytes: def.createMainBytes } } : {}),
  });
  if (!def.faults) {
    const layer = faultLayers(base)[0];
    return { main: base, ...(layer ? { faults: layer } : {}) };
  }
  const faults = new FaultDevice(base, { rules: def.faults });
  return { main: faults, faults };
}

/** Refuse spares that hold someone's data (create without force); name what was found. */
async function refuseSignatures(spares: readonly BlockDevice[], specs: readonly string[]): Promise<void> {
  for (let i = 0; i < spares.length; i++) {
    const found = await probeSignatures(spares[i]!);
    if (found.length > 0) {
      throw new SignatureFoundError(
        specs[i]!,
        found.join(", "),
        `spare "${specs[i]}" contains a ${found.join(" and a ")}; creating a set would destroy it (use --force to overwrite)`,
      );
    }
  }
}

/** Take the locks of the sets whose metadata is on `spares` now: create --force must not format a set in use. */
async function lockExistingSets(spares: readonly BlockDevice[]): Promise<SetLock[]> {
  const locks: SetLock[] = [];
  const seen = new Set<string>();
  try {
    for (const spare of spares) {
      const scan = await scanSuperblocks(spare);
      const sb = scan?.copies.find((c) => c.ok);
      if (!sb?.ok || seen.has(sb.sb.identity.uuid)) continue;
      seen.add(sb.sb.identity.uuid);
      locks.push(await lockSet(sb.sb.identity.uuid, sb.sb.identity.name));
    }
  } catch (err) {
    await Promise.allSettled(locks.map((l) => l.release()));
    throw err;
  }
  return locks;
}

/** Write a new set to `spares` (create mode), refusing signatures and sets in use. */
/** The spec with its base path replaced by the stable /dev/disk/by-id name, when the device has one. */
function stableSpec(spec: string, identity: DeviceIdentity): string {
  if (identity.kind !== "block" || !identity.byId || !spec.endsWith(identity.path)) return spec;
  return spec.slice(0, spec.length - identity.path.length) + `/dev/disk/by-id/${identity.byId}`;
}

async function createOn(
  def: TargetDefinition,
  main: BlockDevice,
  spares: readonly BlockDevice[],
  mainIdentity: DeviceIdentity,
): Promise<void> {
  if (!def.main) throw new SpecError("", "create needs the main device (--main DEV)");
  if (!def.force) await refuseSignatures(spares, def.spares);
  const locks = await lockExistingSets(spares);
  try {
    const created = await createSet({
      main,
      spares,
      blockSize: def.blockSize ?? 4096,
      name: def.name,
      mainSpec: stableSpec(def.main, mainIdentity),
      mainIdentity,
      ...(def.force ? { force: true } : {}),
      ...(def.mirrorCopies === 2 ? { mirrorCopies: 2 as const } : {}),
    });
    await created.store.close();
  } finally {
    await Promise.allSettled(locks.map((l) => l.release()));
  }
}

/** Open a set in `options.mode` (see StackMode); the single builder of every stack. */
export async function openStack(
  def: TargetDefinition,
  options: StackOptions & { mode: "check" },
): Promise<CheckedStack>;
export async function openStack(
  def: TargetDefinition,
  options: StackOptions & { mode: "serve" | "inspect" | "create" },
): Promise<AssembledTarget>;
export async function openStack(
  def: TargetDefinition,
  options: StackOptions,
): Promise<AssembledTarget | CheckedStack> {
  const { mode } = options;
  const readOnly = mode === "inspect" || (mode === "check" && !options.repair);
  if (mode !== "check") {
    const regions = await targetRegions(def, options.resolveEnv);
    assertNoOverlap([...(options.otherRegions ?? []), ...regions]);
  }
  const spareDevices = await openSpareDevices(def.spares, {
    readOnly,
    ...(mode === "create" && def.createSpareBytes ? { createBytes: def.createSpareBytes } : {}),
  });
  let main: BlockDevice | undefined;
  let lock: SetLock | undefined;
  try {
    if (mode === "check") return await checkOnly(def, spareDevices, options.repair ?? false);
    let faults: FaultDevice | undefined;
    let mainIdentity: DeviceIdentity | undefined;
    if (mode === "create") {
      ({ main, faults } = await openMain(def.main ?? "", def, false));
      mainIdentity = await probeDeviceIdentity(def.main ?? "", main.sizeBytes);
      await createOn(def, main, spareDevices, mainIdentity);
    }
    // The one read of the spares' superblocks of this open; openSet reuses it.
    const identified = await identifySpares(spareDevices);
    const { identity } = identified;
    if (!readOnly) lock = await lockSet(identity.uuid, identity.name);
    if (!main) {
      const mainSpec = def.main ?? identity.mainSpec;
      if (!mainSpec) {
        throw new SpecError("", `set "${identity.name}" records no main device: give it with --main DEV`);
      }
      if (!def.main)
        assertNoOverlap([
          ...(options.otherRegions ?? []),
          ...(await targetRegions({ ...def, main: mainSpec }, options.resolveEnv)),
        ]);
      ({ main, faults } = await openMain(mainSpec, def, readOnly));
      mainIdentity = await probeDeviceIdentity(mainSpec, main.sizeBytes);
    }
    // Served stacks get the replace-main tee over main (a pass-through until a replacement is armed).
    const replaceTee = readOnly ? undefined : new ReplaceTee(main);
    if (replaceTee) main = replaceTee;
    const opened = await openSet({
      spares: spareDevices,
      main,
      repair: !readOnly,
      identified,
      ...(options.acceptNewMain || !mainIdentity ? {} : { mainIdentity }),
      ...(readOnly ? { inspect: true } : {}),
    });
    const ordered = withMissingSpares(orderSpares(identified), opened);
    const device = openRemappedDevice({
      main,
      spares: ordered,
      opened,
      ...(def.policy ? { policy: def.policy } : {}),
      ...(options.events ? { events: options.events } : {}),
    });
    const heldLock = lock;
    return {
      device,
      main,
      spares: ordered,
      ...(faults ? { faults } : {}),
      ...(replaceTee ? { replaceTee } : {}),
      opened,
      ...(mainIdentity ? { mainIdentity } : {}),
      close: async () => {
        try {
          // Inspection writes nothing, not even the checkpoint a close would write.
          if (readOnly) device.enterReadOnly("opened read-only for inspection");
          await device.close();
        } finally {
          await heldLock?.release();
        }
      },
    };
  } catch (err) {
    await closeAll([main, ...spareDevices]);
    await lock?.release();
    throw err;
  }
}

/** Spares in set order, with a hole where a spare was not given (the set then runs degraded). */
function orderSpares({ identity, members }: Identified): (BlockDevice | undefined)[] {
  const ordered = new Array<BlockDevice | undefined>(identity.spares.length).fill(undefined);
  for (const m of members) ordered[m.spareIndex] = m.device;
  return ordered;
}

/** Record `stack`'s main as the set's main from now on (a deliberate move; one checkpoint). */
export async function recordMainIdentity(stack: AssembledTarget): Promise<void> {
  const store = stack.opened.store;
  if (!(store instanceof SpareStore) || !stack.mainIdentity) {
    throw new SpecError("", "this stack cannot record a main identity (not opened from spares by openStack)");
  }
  await store.commitMainIdentity(stack.mainIdentity);
}

async function checkOnly(
  def: TargetDefinition,
  spares: BlockDevice[],
  repair: boolean,
): Promise<CheckedStack> {
  let lock: SetLock | undefined;
  try {
    if (repair) {
      const { identity } = await identifySpares(spares);
      lock = await lockSet(identity.uuid, identity.name);
    }
    const report = await checkSet(spares, { repair });
    return { report, main: await checkMain(def.main ?? report.identity.mainSpec, spares) };
  } finally {
    await lock?.release();
    await closeAll(spares);
  }
}

/** Compare the main device (read-only) with the identity the set recorded; never throws. */
async function checkMain(spec: string | undefined, spares: readonly BlockDevice[]): Promise<MainCheck> {
  if (!spec) return { state: "unchecked", detail: "the set records no main device (give --main DEV)" };
  let main: BlockDevice;
  try {
    main = await openDevice(spec, { readOnly: true });
  } catch (err) {
    return { state: "unchecked", spec, detail: `cannot open it: ${(err as Error).message}` };
  }
  try {
    const found = await probeDeviceIdentity(spec, main.sizeBytes);
    const opened = await openSet({ spares, repair: false, inspect: true });
    await opened.store.close();
    const recorded = opened.mainIdentity;
    if (!recorded)
      return {
        state: "unchecked",
        spec,
        detail: "the set records no main identity (created before it was recorded)",
      };
    const why = identityMismatch(recorded, found);
    return why
      ? {
          state: "mismatch",
          spec,
          detail: `not the recorded main (${why}): expected ${identityText(recorded)}, found ${identityText(found)}`,
        }
      : { state: "ok", spec, detail: identityText(found) };
  } catch (err) {
    return { state: "unchecked", spec, detail: (err as Error).message };
  } finally {
    await main.close().catch(() => undefined);
  }
}

/** Read a set's identity from its spares (read-only, nothing repaired). */
export async function readSetIdentity(spareSpecs: readonly string[]): Promise<SetIdentity> {
  const devices = await openSpareDevices(spareSpecs, { readOnly: true });
  try {
    return (await identifySpares(devices)).identity;
  } finally {
    await closeAll(devices);
  }
}
