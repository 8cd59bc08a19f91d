// The real identity of a device behind a spec: stable IDs of a block device (WWN, serial, model,
// /dev/disk/by-id name), device + inode of a file, the URI of an NBD export. A pure core
// (identityFromFacts, sameDevice) and one probe that gathers the facts from stat and sysfs.
import { readdir, readFile, readlink, stat } from "node:fs/promises";
import { basename } from "node:path";
import { decodeDeviceNumber } from "./block-sysfs.js";
import { parseDeviceSpec, type DeviceSpec } from "./device-spec.js";

/** What identifies a device across reboots and renames; recorded for a set's main at create. */
export type DeviceIdentity =
  | {
      readonly kind: "block";
      readonly path: string;
      readonly sizeBytes: number;
      readonly wwn?: string;
      readonly serial?: string;
      readonly model?: string;
      /** A /dev/disk/by-id name of the device (stable across /dev/sdX renames). */
      readonly byId?: string;
      /** Byte range of the slice of the device the spec uses (absent: the whole device). */
      readonly range?: string;
    }
  | {
      readonly kind: "file";
      readonly path: string;
      readonly sizeBytes: number;
      /** st_dev as MAJOR:MINOR and st_ino of the file. */
      readonly device: string;
      readonly inode: string;
      readonly range?: string;
    }
  | { readonly kind: "nbd"; readonly uri: string; readonly sizeBytes: number; readonly range?: string }
  | { readonly kind: "memory"; readonly sizeBytes: number };

/** Facts about the base of a spec, as gathered by probeDeviceIdentity (tests build them by hand). */
export type DeviceFacts =
  | {
      readonly kind: "block";
      readonly path: string;
      readonly sizeBytes: number;
      readonly sysfs: { readonly wwn?: string; readonly serial?: string; readonly model?: string };
      readonly byIdNames: readonly string[];
    }
  | {
      readonly kind: "file";
      readonly path: string;
      readonly sizeBytes: number;
      readonly dev: string;
      readonly ino: string;
    }
  | { readonly kind: "nbd"; readonly uri: string; readonly sizeBytes: number }
  | { readonly kind: "memory"; readonly sizeBytes: number };

const clean = (text: string | undefined) => {
  const t = text?.trim();
  return t ? t : undefined;
};

/** Prefer the by-id name that carries the WWN, then any non-partition name, sorted for stability. */
function pickById(names: readonly string[]): string | undefined {
  const sorted = [...names].filter((n) => !/-part\d+$/.test(n)).sort();
  return sorted.find((n) => n.startsWith("wwn-")) ?? sorted[0];
}

/** The identity of a device from its facts; `range` names the slice of it the spec uses. */
export function identityFromFacts(facts: DeviceFacts, range?: string): DeviceIdentity {
  const r = range ? { range } : {};
  switch (facts.kind) {
    case "block": {
      const byId = pickById(facts.byIdNames);
      const wwn = clean(facts.sysfs.wwn);
      const serial = clean(facts.sysfs.serial);
      const model = clean(facts.sysfs.model);
      return {
        kind: "block",
        path: facts.path,
        sizeBytes: facts.sizeBytes,
        ...(wwn ? { wwn } : {}),
        ...(serial ? { serial } : {}),
        ...(model ? { model } : {}),
        ...(byId ? { byId } : {}),
        ...r,
      };
    }
    case "file":
      return {
        kind: "file",
        path: facts.path,
        sizeBytes: facts.sizeBytes,
        device: facts.dev,
        inode: facts.ino,
        ...r,
      };
    case "nbd":
      return { kind: "nbd", uri: facts.uri, sizeBytes: facts.sizeBytes, ...r };
    case "memory":
      return { kind: "memory", sizeBytes: facts.sizeBytes };
  }
}

/**
 * Why `found` is not the device `expected` describes, or undefined when it is. Block devices match
 * on their stable IDs when both have one (so a /dev/sdX rename is fine), files on device + inode,
 * NBD exports on URI; sizes and slice ranges must always agree.
 */
export function identityMismatch(expected: DeviceIdentity, found: DeviceIdentity): string | undefined {
  if (expected.kind !== found.kind) return `a ${found.kind} device instead of a ${expected.kind} device`;
  if (expected.sizeBytes !== found.sizeBytes)
    return `${found.sizeBytes} bytes instead of ${expected.sizeBytes}`;
  const er = "range" in expected ? expected.range : undefined;
  const fr = "range" in found ? found.range : undefined;
  if (er !== fr) return `byte range ${fr ?? "whole device"} instead of ${er ?? "whole device"}`;
  if (expected.kind === "block" && found.kind === "block") {
    for (const key of ["wwn", "serial", "model"] as const) {
      if (expected[key] !== undefined && found[key] !== undefined && expected[key] !== found[key])
        return `${key} ${found[key]} instead of ${expected[key]}`;
    }
    const stable = (["wwn", "serial"] as const).some(
      (k) => expected[k] !== undefined && found[k] !== undefined,
    );
    if (!stable && expected.byId !== undefined && found.byId !== undefined && expected.byId !== found.byId)
      return `/dev/disk/by-id/${found.byId} instead of /dev/disk/by-id/${expected.byId}`;
    // Without any stable ID only the path is left to tell disks apart.
    if (!stable && (expected.byId === undefined || found.byId === undefined) && expected.path !== found.path)
      return `${found.path} instead of ${expected.path} (the device has no stable ID)`;
    return undefined;
  }
  if (expected.kind === "file" && found.kind === "file") {
    if (expected.device !== found.device || expected.inode !== found.inode)
      return `file ${found.path} (device ${found.device}, inode ${found.inode}) instead of ${expected.path} (device ${expected.device}, inode ${expected.inode})`;
    return undefined;
  }
  if (expected.kind === "nbd" && found.kind === "nbd" && expected.uri !== found.uri)
    return `${found.uri} instead of ${expected.uri}`;
  return undefined;
}

/** One line naming a device by its identity (for messages). */
export function identityText(id: DeviceIdentity): string {
  const range = "range" in id && id.range ? ` [${id.range}]` : "";
  switch (id.kind) {
    case "block": {
      const ids = [
        id.wwn && `wwn ${id.wwn}`,
        id.serial && `serial ${id.serial}`,
        id.model && `model ${id.model}`,
      ]
        .filter(Boolean)
        .join(", ");
      return `block device ${id.byId ? `/dev/disk/by-id/${id.byId}` : id.path} (${ids || "no stable ID"}, ${id.sizeBytes} bytes)${range}`;
    }
    case "file":
      return `file ${id.path} (device ${id.device}, inode ${id.inode}, ${id.sizeBytes} bytes)${range}`;
    case "nbd":
      return `NBD export ${id.uri} (${id.sizeBytes} bytes)${range}`;
    case "memory":
      return `memory device (${id.sizeBytes} bytes)`;
  }
}

/** The base of a spec (fault layers peeled off) and the byte range slices select on it. */
function baseOf(spec: DeviceSpec): { base: DeviceSpec; range?: string } {
  let offset = 0;
  let length: number | undefined;
  let sliced = false;
  let s = spec;
  while (s.type === "slice" || s.type === "fault") {
    if (s.type === "slice") {
      sliced = true;
      offset += s.offsetBytes;
      if (s.lengthBytes !== undefined) length = Math.min(length ?? Infinity, s.lengthBytes);
    }
    s = s.lower;
  }
  return { base: s, ...(sliced ? { range: `${offset}+${length ?? "end"}` } : {}) };
}

async function sysfsText(path: string): Promise<string | undefined> {
  return readFile(path, "utf8").then(
    (t) => t.trim(),
    () => undefined,
  );
}

async function byIdNames(devPath: string, byIdDir: string): Promise<string[]> {
  const names = await readdir(byIdDir).catch(() => [] as string[]);
  const target = basename(devPath);
  const out: string[] = [];
  for (const n of names) {
    const link = await readlink(`${byIdDir}/${n}`).catch(() => undefined);
    if (link && basename(link) === target) out.push(n);
  }
  return out;
}

/** Options of probeDeviceIdentity (tests point them at fake trees). */
export interface ProbeOptions {
  readonly sysfsRoot?: string;
  readonly byIdDir?: string;
}

/**
 * The identity of the device `spec` names, whose opened size is `sizeBytes`: stat of the file or
 * block device, its sysfs IDs and /dev/disk/by-id names; NBD URIs by URI.
 */
export async function probeDeviceIdentity(
  spec: string,
  sizeBytes: number,
  options: ProbeOptions = {},
): Promise<DeviceIdentity> {
  const { base, range } = baseOf(parseDeviceSpec(spec));
  if (base.type === "mem") return identityFromFacts({ kind: "memory", sizeBytes });
  if (base.type === "nbd") return identityFromFacts({ kind: "nbd", uri: base.uri, sizeBytes }, range);
  if (base.type !== "file") return identityFromFacts({ kind: "memory", sizeBytes });
  const st = await stat(base.path, { bigint: true });
  if (st.isBlockDevice()) {
    const { major, minor } = decodeDeviceNumber(st.rdev);
    const dir = `${options.sysfsRoot ?? "/sys"}/dev/block/${major}:${minor}`;
    const sysfs = {
      wwn: (await sysfsText(`${dir}/wwid`)) ?? (await sysfsText(`${dir}/device/wwid`)),
      serial: (await sysfsText(`${dir}/serial`)) ?? (await sysfsText(`${dir}/device/serial`)),
      model: await sysfsText(`${dir}/device/model`),
    };
    const names = await byIdNames(base.path, options.byIdDir ?? "/dev/disk/by-id");
    return identityFromFacts({ kind: "block", path: base.path, sizeBytes, sysfs, byIdNames: names }, range);
  }
  const { major, minor } = decodeDeviceNumber(st.dev);
  return identityFromFacts(
    { kind: "file", path: base.path, sizeBytes, dev: `${major}:${minor}`, ino: st.ino.toString() },
    range,
  );
}
