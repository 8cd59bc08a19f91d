// openDevice: the one place that turns a device spec into an opened stack, bottom-up.
// Also finds layers in a stack (e.g. the FaultDevice the daemon controls at runtime).
import type { BlockDevice } from "./block-device.js";
import { parseDeviceSpec, type DeviceSpec } from "./device-spec.js";
import { BlockError, OpenError, SpecError } from "./errors.js";
import { FaultDevice } from "./fault-device.js";
import { FileDevice } from "./file-device.js";
import { MemoryDevice } from "./memory-device.js";
import { ReadOnlyDevice } from "./read-only-device.js";
import { SliceDevice } from "./slice-device.js";

export { parseDeviceSpec, parseFaultRule, wrappers, type DeviceSpec } from "./device-spec.js";

/** Options of openDevice. */
export interface OpenDeviceOptions {
  /** Open the base read-only; the whole stack then refuses writes. */
  readonly readOnly?: boolean;
  /** Open a block-device base read-write with O_EXCL (refused when mounted or claimed). */
  readonly exclusive?: boolean;
  /** If a file base does not exist, create it as a sparse file of this size. */
  readonly create?: { readonly sizeBytes: number };
  /** Clock of flakey rules (default Date.now). */
  readonly now?: () => number;
  /** How delay rules wait (default setTimeout). */
  readonly sleep?: (ms: number) => Promise<void>;
}

/** Opens a remote base device from its URI (registered by the folder that implements it). */
export type DeviceOpener = (uri: string, options: { readonly readOnly?: boolean }) => Promise<BlockDevice>;

/** URI schemes of remote bases, as the spec grammar knows them; "nbd" covers every nbd* scheme. */
export type RemoteScheme = "nbd";

const openers = new Map<RemoteScheme, DeviceOpener>();

/**
 * Register the opener of a remote base kind. block/ never imports the folders above it: the NBD
 * client (src/nbd/nbd-client-device.ts) registers itself when it is imported by a stack builder.
 */
export function registerDeviceOpener(scheme: RemoteScheme, opener: DeviceOpener): void {
  openers.set(scheme, opener);
}

async function openRemote(
  spec: string,
  scheme: RemoteScheme,
  uri: string,
  readOnly: boolean,
): Promise<BlockDevice> {
  const opener = openers.get(scheme);
  if (!opener) {
    throw new SpecError(spec, `device spec "${spec}": ${scheme} URIs are not supported in this build`);
  }
  try {
    return await opener(uri, { readOnly });
  } catch (err) {
    if (err instanceof BlockError) throw err;
    throw new OpenError(spec, `cannot open "${uri}": ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
    });
  }
}

async function openFile(path: string, direct: boolean, options: OpenDeviceOptions): Promise<BlockDevice> {
  try {
    return await FileDevice.open(path, {
      readOnly: options.readOnly,
      direct,
      ...(options.exclusive ? { exclusive: true } : {}),
    });
  } catch (err) {
    const missing = err instanceof OpenError && (err.cause as NodeJS.ErrnoException)?.code === "ENOENT";
    if (!missing || !options.create || options.readOnly) throw err;
    return FileDevice.create(path, options.create.sizeBytes, { direct });
  }
}

async function openBase(spec: string, node: DeviceSpec, options: OpenDeviceOptions): Promise<BlockDevice> {
  switch (node.type) {
    case "file":
      return openFile(node.path, node.direct ?? false, options);
    case "mem": {
      const mem = new MemoryDevice({ sizeBytes: node.sizeBytes });
      return options.readOnly ? new ReadOnlyDevice(mem) : mem;
    }
    case "nbd":
      return openRemote(spec, "nbd", node.uri, options.readOnly ?? false);
    default:
      throw new Error(`not a base device: ${node.type}`);
  }
}

async function build(spec: string, node: DeviceSpec, options: OpenDeviceOptions): Promise<BlockDevice> {
  if (node.type !== "slice" && node.type !== "fault") return openBase(spec, node, options);
  const lower = await build(spec, node.lower, options);
  try {
    if (node.type === "slice") {
      return new SliceDevice(lower, { offsetBytes: node.offsetBytes, lengthBytes: node.lengthBytes });
    }
    return new FaultDevice(lower, { rules: node.rules, now: options.now, sleep: options.sleep });
  } catch (err) {
    await lower.close().catch(() => undefined);
    throw err;
  }
}

/**
 * Open the device stack a spec describes (see docs/DEVICE-SPECS.md). Every failure is a SpecError
 * or OpenError whose message starts with `device spec "SPEC":` and names the bad value.
 */
export async function openDevice(spec: string, options: OpenDeviceOptions = {}): Promise<BlockDevice> {
  const tree = parseDeviceSpec(spec);
  try {
    return await build(spec, tree, options);
  } catch (err) {
    const prefix = `device spec "${spec}": `;
    if (err instanceof BlockError && err.message.startsWith(prefix)) throw err;
    if (err instanceof SpecError) throw new SpecError(spec, prefix + err.message, { cause: err });
    if (err instanceof OpenError) throw new OpenError(spec, prefix + err.message, { cause: err });
    throw err;
  }
}

/** A class to look for in a stack (its constructor may be private, as FileDevice's is). */
export type LayerClass<T extends BlockDevice> = { readonly prototype: T };

/** Walk `.lower` links from the top of a stack; the first device that is an instance of `type`. */
export function findLayer<T extends BlockDevice>(device: BlockDevice, type: LayerClass<T>): T | undefined {
  return findLayers(device, type)[0];
}

/** Every device in the stack (top first) that is an instance of `type`. */
export function findLayers<T extends BlockDevice>(device: BlockDevice, type: LayerClass<T>): T[] {
  const found: T[] = [];
  for (let d: BlockDevice | undefined = device; d; d = (d as { lower?: BlockDevice }).lower) {
    if (Object.prototype.isPrototypeOf.call(type.prototype, d)) found.push(d as T);
  }
  return found;
}

/** The fault layers of a stack, top first (what the daemon controls at runtime). */
export function faultLayers(device: BlockDevice): FaultDevice[] {
  return findLayers(device, FaultDevice);
}
