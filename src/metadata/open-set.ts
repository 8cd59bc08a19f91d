// openSet and checkSet: read every copy, pick the newest valid state (highest generation after
// journal replay), refuse mismatched devices, and repair stale, corrupt or damaged copies.
import type { BlockDevice } from "../block/block-device.js";
import type { CopyStatus, OpenSetOptions, OpenedSet, SetIdentity, TableSnapshot } from "./metadata-store.js";
import { decodeBody } from "./checkpoint-codec.js";
import { mainFingerprint, maskBytesFor, uuidToBytes } from "./layout.js";
import { type CopyScan, scanCopy } from "./scan-copy.js";
import { type CopyHandle, SpareStore } from "./spare-store.js";
import { TableState } from "./table-state.js";
import { identifySpares } from "./identify-spares.js";
import { MainMismatchError, MetadataWriteError, NoValidMetadataError } from "./errors.js";

/** Result of checkSet: per-copy state as found, after repair, and what was done. */
export interface CheckReport {
  readonly identity: SetIdentity;
  /** Every copy as found on disk (like fsck's first pass). */
  readonly found: readonly CopyStatus[];
  /** Every copy after repair (equal to found when nothing was repaired). */
  readonly after: readonly CopyStatus[];
  readonly generation: number;
  readonly repaired: boolean;
  /** True when every copy was ok as found. */
  readonly clean: boolean;
  readonly notes: readonly string[];
  readonly readOnlyReason?: string;
}

interface Loaded {
  readonly opened: OpenedSet;
  readonly store: SpareStore;
  readonly found: CopyStatus[];
  readonly repaired: boolean;
}

const slotName = (s: number) => (s === 0 ? ("A" as const) : s === 1 ? ("B" as const) : ("none" as const));

/** Open an existing set from its spares (any order); see OpenSetOptions. */
export async function openSet(options: OpenSetOptions): Promise<OpenedSet> {
  return (await loadSet(options)).opened;
}

/** Verify every copy of a set and (with repair) rewrite the bad ones; for `dmremap check`. */
export async function checkSet(
  spares: readonly BlockDevice[],
  options: { repair?: boolean } = {},
): Promise<CheckReport> {
  const { opened, store, found, repaired } = await loadSet({ spares, repair: options.repair ?? false });
  const after = store.copies();
  await store.close();
  return {
    identity: store.identity,
    found,
    after,
    generation: store.generation,
    repaired,
    clean: found.every((c) => c.state === "ok" && !c.detail),
    notes: opened.notes,
    ...(opened.readOnlyReason ? { readOnlyReason: opened.readOnlyReason } : {}),
  };
}

async function loadSet(options: OpenSetOptions): Promise<Loaded> {
  const { identity, layout, members } = await identifySpares(options.spares);
  const setText = `set "${identity.name}" (${identity.uuid})`;
  if (options.main) checkMain(options.main, identity, setText);
  const notes: string[] = [];
  const setUuid = uuidToBytes(identity.uuid);
  const scans: CopyScan[] = [];
  for (const m of members) scans.push(await scanCopy(m.device, layout, setUuid));

  const order = members
    .map((_, i) => i)
    .filter((i) => scans[i]!.active >= 0)
    .sort((x, y) => {
      const a = scans[x]!;
      const b = scans[y]!;
      return b.generation - a.generation || b.checkpointGeneration - a.checkpointGeneration || x - y;
    });
  let winner = -1;
  let base: TableSnapshot | undefined;
  for (const i of order) {
    const s = scans[i]!;
    const slot = s.slots[s.active as 0 | 1];
    const decoded = decodeBody(slot.header!, slot.body!);
    if (typeof decoded !== "string") {
      winner = i;
      base = decoded;
      break;
    }
    slot.problem = decoded;
  }
  if (!base) {
    const why = members.map(
      (m, i) =>
        `${m.device.describe()}: ${scans[i]!.slots.map((s) => s.problem ?? "undecodable").join(" / ")}`,
    );
    throw new NoValidMetadataError(`${setText}: no valid checkpoint on any spare (${why.join("; ")})`);
  }
  const w = scans[winner]!;
  const blockSize = identity.blockSize;
  const slotCount = identity.spares.reduce((n, s) => n + s.slotCount, 0);
  const limits = {
    blockCount: Math.ceil(identity.mainSizeBytes / blockSize),
    slotCount,
    maxEntries: layout.maxEntries,
    pendingCapacity: layout.pendingCapacity,
    maskBytes: maskBytesFor(blockSize),
  };
  const table = new TableState(base, limits);
  for (const records of w.batches) {
    const problem = table.apply(records);
    if (problem) notes.push(`journal batch skipped: ${problem}`);
  }

  let needCheckpoint = false;
  // A damaged second slot survives one checkpoint (which fills only one slot): repair writes two.
  let damagedSlots = false;
  const handles: CopyHandle[] = members.map((m, i) => {
    const s = scans[i]!;
    const d = m.device.describe();
    const damaged = s.slots
      .map((slot, k) =>
        k !== s.active && slot.problem && slot.problem !== "blank"
          ? `slot ${slotName(k)}: ${slot.problem}`
          : "",
      )
      .filter(Boolean);
    if (damaged.length > 0) needCheckpoint = damagedSlots = true;
    const details = [...(m.superblockDetail ? [`superblock: ${m.superblockDetail}`] : []), ...damaged];
    let state: CopyStatus["state"] = "ok";
    if (s.active < 0 || s.slots[s.active as 0 | 1].problem) state = "corrupt";
    else if (s.generation !== w.generation || s.checkpointGeneration !== w.checkpointGeneration)
      state = "stale";
    if (state === "corrupt")
      details.unshift(
        `no valid checkpoint (${s.slots.map((x, k) => `${slotName(k)}: ${x.problem}`).join(", ")})`,
      );
    if (state === "stale") details.unshift(`generation ${s.generation}, newest is ${w.generation}`);
    if (state !== "ok") needCheckpoint = true;
    if (state === "corrupt") damagedSlots = true;
    if (details.length > 0)
      notes.push(`copy on ${d} (spare ${m.spareIndex}) is ${state}: ${details.join("; ")}`);
    return {
      device: m.device,
      spareIndex: m.spareIndex,
      activeSlot: s.active,
      generation: s.generation,
      state,
      ...(details.length > 0 ? { detail: details.join("; ") } : {}),
    };
  });
  const found: CopyStatus[] = handles.map((h) => ({
    device: h.device.describe(),
    spareIndex: h.spareIndex,
    slot: slotName(h.activeSlot),
    generation: h.generation,
    state: h.state,
    ...(h.detail ? { detail: h.detail } : {}),
  }));
  const present = new Set(members.map((m) => m.spareIndex));
  const missing: CopyStatus[] = identity.spares
    .filter((s) => !present.has(s.index))
    .map((s) => {
      notes.push(`spare ${s.index} (${s.uuid}) of ${setText} is missing: running degraded`);
      return {
        device: `missing spare ${s.uuid}`,
        spareIndex: s.index,
        slot: "none",
        generation: 0,
        state: "failed",
        detail: "spare not given: running degraded",
      };
    });

  const repair = options.repair ?? true;
  // Opening degraded writes a checkpoint two generations up (see SpareStore.generationGap), so a
  // missing copy that comes back can never tie with the present ones while holding other commits.
  if (missing.length > 0) needCheckpoint = true;
  const fixSuperblocks = members.filter((m) => !m.superblocksIntact).map((m) => handles[members.indexOf(m)]!);
  let repaired = false;
  if (repair) {
    for (const h of handles) {
      if (h.state === "stale" || h.state === "corrupt") {
        h.state = "ok";
        h.detail = `repaired (was ${h.detail ?? h.state})`;
      }
    }
  } else if (needCheckpoint || fixSuperblocks.length > 0)
    notes.push("repair disabled: damaged copies left as found and not written");
  for (const h of handles) {
    if (h.state === "ok" && h.device.capabilities.readOnly && !options.inspect) {
      h.state = "failed";
      h.detail = "device is read-only";
    }
  }
  const position = {
    generation: w.generation,
    checkpointGeneration: w.checkpointGeneration,
    writeOffset: w.writeOffset,
    usedBytes: w.usedBytes,
  };
  const store = new SpareStore(identity, layout, table, handles, position, missing);
  let readOnlyReason = store.writeFailure ? `${setText}: no metadata copy can be written` : undefined;
  const sbTargets = fixSuperblocks.filter((h) => h.state === "ok");
  if (repair && !readOnlyReason && (needCheckpoint || sbTargets.length > 0)) {
    try {
      await store.repair(sbTargets, needCheckpoint ? (damagedSlots ? 2 : 1) : 0);
      repaired = true;
      notes.push(
        `repaired ${setText}: ${needCheckpoint ? `checkpoint ${store.generation} written to every copy` : "superblocks rewritten"}`,
      );
    } catch (err) {
      if (!(err instanceof MetadataWriteError)) throw err;
      readOnlyReason = err.message;
    }
  }
  const opened: OpenedSet = {
    store,
    snapshot: table.snapshot(),
    notes,
    ...(readOnlyReason ? { readOnlyReason } : {}),
  };
  return {
    opened,
    store,
    found: [...found, ...missing].sort((a, b) => a.spareIndex - b.spareIndex),
    repaired,
  };
}

function checkMain(main: BlockDevice, identity: SetIdentity, setText: string): void {
  const d = main.describe();
  if (main.sizeBytes !== identity.mainSizeBytes) {
    throw new MainMismatchError(
      d,
      `main device ${d} is ${main.sizeBytes} bytes, but ${setText} was created for a main device of ${identity.mainSizeBytes} bytes`,
    );
  }
  if (mainFingerprint(main.sizeBytes, identity.blockSize) !== identity.mainFingerprint) {
    throw new MainMismatchError(d, `main device ${d} does not match the fingerprint recorded in ${setText}`);
  }
}
