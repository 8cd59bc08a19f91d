// openSet and checkSet: read both ends of every copy, pick the newest valid state (highest
// generation after journal replay), refuse mismatched devices, repair stale, corrupt or damaged
// copies and ends, and upgrade a format version 1 set on a read-write open.
import type { BlockDevice } from "../block/block-device.js";
import type {
  CopyStatus,
  MissingSpare,
  OpenSetOptions,
  OpenedSet,
  SetIdentity,
  TableSnapshot,
} from "./metadata-store.js";
import { decodeBodyWithIdentity } from "./checkpoint-codec.js";
import { ENDS, type End, endGeometry, mainFingerprint, maskBytesFor, uuidToBytes } from "./layout.js";
import { type EndScan, scanEnd } from "./scan-copy.js";
import { type CopyHandle, SpareStore, copyHandle } from "./spare-store.js";
import { TableState } from "./table-state.js";
import { type Identified, identifySpares } from "./identify-spares.js";
import { checkMainIdentity, decodeSetRecord, type SetRecord } from "./main-identity.js";
import { openVersion1 } from "./upgrade-v1.js";
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
  /** Format version found on disk (1: upgraded by a read-write open, e.g. check --repair). */
  readonly formatVersion: number;
}

/** What loading a set produced (open and check share it). */
export interface Loaded {
  readonly opened: OpenedSet;
  readonly store: SpareStore;
  readonly found: CopyStatus[];
  readonly repaired: boolean;
  readonly formatVersion: number;
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
  const repair = options.repair ?? false;
  const { opened, store, found, repaired, formatVersion } = await loadSet({
    spares,
    repair,
    ...(repair ? {} : { inspect: true }),
  });
  const after = store.copies();
  await store.close();
  return {
    identity: store.identity,
    found,
    after,
    generation: store.generation,
    repaired,
    clean: formatVersion === 2 && found.every((c) => c.state === "ok" && !c.detail),
    notes: opened.notes,
    formatVersion,
    ...(opened.readOnlyReason ? { readOnlyReason: opened.readOnlyReason } : {}),
  };
}

/** Load a set (upgrading a version 1 set when it may write); exported for the upgrade path. */
export async function loadSet(options: OpenSetOptions): Promise<Loaded> {
  const identified = options.identified ?? (await identifySpares(options.spares));
  if (identified.layout.version === 1) return openVersion1(identified, options, loadSet);
  return loadVersion2(identified, options);
}

interface CopyScans {
  readonly ends: Record<End, EndScan>;
  /** The end holding this copy's newest state, or undefined when neither end is valid. */
  best?: End;
}

const genOf = (e: EndScan) => [e.generation, e.checkpointGeneration] as const;

function newer(a: EndScan, b: EndScan): number {
  const [ga, ca] = genOf(a);
  const [gb, cb] = genOf(b);
  return ga - gb || ca - cb;
}

function endProblem(e: EndScan, relocatedSlot: boolean): string {
  const p = relocatedSlot ? e.problems.reloc : e.problems.slot;
  return `no valid checkpoint (${p ?? "undecodable"})`;
}

async function loadVersion2(identified: Identified, options: OpenSetOptions): Promise<Loaded> {
  const { identity, layout, members } = identified;
  const setText = `set "${identity.name}" (${identity.uuid})`;
  if (options.main) checkMain(options.main, identity, setText);
  const notes: string[] = [];
  const setUuid = uuidToBytes(identity.uuid);
  const scans: CopyScans[] = [];
  for (const m of members) {
    const size = identity.spares[m.spareIndex]!.sizeBytes;
    const ends = {} as Record<End, EndScan>;
    for (const end of ENDS)
      ends[end] = await scanEnd(m.device, layout, endGeometry(layout, end, size), setUuid);
    const valid = ENDS.filter((e) => ends[e].place !== "none").sort((a, b) => newer(ends[b], ends[a]));
    scans.push({ ends, ...(valid[0] ? { best: valid[0] } : {}) });
  }

  // Every valid end of every copy, newest first (ties: lower spare index, head before tail).
  const order = members
    .flatMap((_, i) => ENDS.filter((e) => scans[i]!.ends[e].place !== "none").map((e) => [i, e] as const))
    .sort(
      ([x, ex], [y, ey]) =>
        newer(scans[y]!.ends[ey], scans[x]!.ends[ex]) || x - y || (ex === "head" ? -1 : 1),
    );
  let winner: { copy: number; end: End; scan: EndScan } | undefined;
  let base: TableSnapshot | undefined;
  let record: SetRecord = { spares: [] };
  for (const [i, e] of order) {
    const scan = scans[i]!.ends[e];
    const decoded = decodeBodyWithIdentity(scan.header!, scan.body!);
    if (typeof decoded !== "string") {
      winner = { copy: i, end: e, scan };
      base = decoded.snapshot;
      record = decodeSetRecord(decoded.identity);
      break;
    }
    notes.push(`${members[i]!.device.describe()} ${e}: ${decoded}`);
  }
  if (!base || !winner) {
    const why = members.map(
      (m, i) =>
        `${m.device.describe()}: ${ENDS.map((e) => `${e} ${endProblem(scans[i]!.ends[e], m.relocations[e] === "slot")}`).join(", ")}`,
    );
    throw new NoValidMetadataError(
      `${setText}: no valid checkpoint at either end of any spare (${why.join("; ")})`,
    );
  }
  if (options.mainIdentity) checkMainIdentity(record.main, options.mainIdentity, setText);
  const w = winner.scan;
  const blockSize = identity.blockSize;
  const limits = {
    blockCount: Math.ceil(identity.mainSizeBytes / blockSize),
    slotCount: identity.spares.reduce((n, s) => n + s.slotCount, 0),
    maxEntries: layout.maxEntries,
    pendingCapacity: layout.pendingCapacity,
    maskBytes: maskBytesFor(blockSize),
  };
  const table = new TableState(base, limits);
  for (const records of w.batches) {
    const problem = table.apply(records);
    if (problem) notes.push(`journal batch skipped: ${problem}`);
  }
  const current = (e: EndScan) =>
    e.generation === w.generation && e.checkpointGeneration === w.checkpointGeneration;

  let needCheckpoint = false;
  const handles: CopyHandle[] = members.map((m, i) => {
    const s = scans[i]!;
    const d = m.device.describe();
    const size = identity.spares[m.spareIndex]!.sizeBytes;
    const bestScan = s.best ? s.ends[s.best] : undefined;
    const relocations = { ...(bestScan?.relocations ?? m.relocations) };
    const h = copyHandle(m.device, m.spareIndex, layout, size, bestScan?.generation ?? 0, relocations);
    h.activeSlot = s.best === "head" ? 0 : s.best === "tail" ? 1 : -1;
    const details: string[] = [];
    if (m.superblockDetail) details.push(m.superblockDetail);
    for (const e of ENDS) {
      const scan = s.ends[e];
      h.ends[e].generation = scan.generation;
      if (scan.place === "none") details.push(`${e} end: ${endProblem(scan, relocations[e] === "slot")}`);
      else if (!current(scan))
        details.push(`${e} end: generation ${scan.generation}, newest is ${w.generation}`);
      if (scan.place === "none" || !current(scan)) needCheckpoint = true;
    }
    let state: CopyStatus["state"] = "ok";
    if (!bestScan) state = "corrupt";
    else if (!current(bestScan)) state = "stale";
    if (state === "stale") details.unshift(`generation ${bestScan!.generation}, newest is ${w.generation}`);
    h.state = state;
    if (details.length > 0) {
      h.detail = details.join("; ");
      notes.push(`copy on ${d} (spare ${m.spareIndex}) is ${state}: ${h.detail}`);
    }
    return h;
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
  const missingSpares: MissingSpare[] = identity.spares
    .filter((s) => !present.has(s.index) && !s.removed)
    .map((s) => {
      const last = record.spares[s.index];
      return {
        index: s.index,
        uuid: s.uuid,
        sizeBytes: s.sizeBytes,
        ...(last ? { lastKnownDevice: last } : {}),
      };
    });
  const missing: CopyStatus[] = missingSpares.map((s) => {
    const seen = s.lastKnownDevice ? `, last seen as ${s.lastKnownDevice}` : "";
    notes.push(`spare ${s.index} (${s.uuid}${seen}) of ${setText} is missing: running degraded`);
    return {
      device: s.lastKnownDevice ?? `missing spare ${s.uuid}`,
      spareIndex: s.index,
      slot: "none",
      generation: 0,
      state: "failed",
      detail: `spare ${s.uuid} not given${seen}: running degraded`,
    };
  });

  const repair = options.repair ?? true;
  // Opening degraded writes a checkpoint two generations up (see SpareStore.generationGap), so a
  // missing copy that comes back can never tie with the present ones while holding other commits.
  if (missing.length > 0) needCheckpoint = true;
  const fixSuperblocks = members
    .filter((m) => !m.superblocksIntact.head || !m.superblocksIntact.tail)
    .map((m) => handles[members.indexOf(m)]!);
  let repaired = false;
  if (repair) {
    for (const h of handles) {
      if (h.state === "stale" || h.state === "corrupt") h.state = "ok";
      if (h.detail) h.detail = `repaired (was ${h.detail})`;
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
  const spareNames = identity.spares.map((s) => (s.removed ? null : (record.spares[s.index] ?? null)));
  for (const m of members) spareNames[m.spareIndex] = m.device.describe();
  const store = new SpareStore(identity, layout, table, handles, position, missing, {
    ...record,
    spares: spareNames,
  });
  let readOnlyReason = store.writeFailure ? `${setText}: no metadata copy can be written` : undefined;
  const sbTargets = fixSuperblocks.filter((h) => h.state === "ok");
  if (repair && !readOnlyReason && (needCheckpoint || sbTargets.length > 0)) {
    try {
      await store.repair(sbTargets, needCheckpoint);
      repaired = true;
      notes.push(
        `repaired ${setText}: ${needCheckpoint ? `checkpoint ${store.generation} written to both ends of every copy` : "superblocks rewritten"}`,
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
    missingSpares,
    ...(record.main ? { mainIdentity: record.main } : {}),
    ...(readOnlyReason ? { readOnlyReason } : {}),
  };
  return {
    opened,
    store,
    found: [...found, ...missing].sort((a, b) => a.spareIndex - b.spareIndex),
    repaired,
    formatVersion: 2,
  };
}

/** Refuse a main device whose size or fingerprint is not the recorded one. */
export function checkMain(main: BlockDevice, identity: SetIdentity, setText: string): void {
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
