// Format version 1 (everything at the head of each spare): recovery, a read-only view for
// inspection, and the crash-safe automatic upgrade to version 2 on a read-write open
// (docs/FORMAT.md "Upgrade from version 1").
import type { BlockDevice } from "../block/block-device.js";
import { readBytes } from "../block/base-device.js";
import type {
  CopyStatus,
  OpenSetOptions,
  SetIdentity,
  SpareIdentity,
  TableSnapshot,
} from "./metadata-store.js";
import { decodeBody, encodeBody, encodeSlot } from "./checkpoint-codec.js";
import {
  CHECKPOINT_HEADER_BYTES,
  ENDS,
  SUPERBLOCK_BYTES,
  endGeometry,
  maskBytesFor,
  slotCountFor,
  slotOffset,
  upgradedLayout,
  uuidToBytes,
} from "./layout.js";
import { type CopyScan, scanCopyV1 } from "./scan-copy.js";
import { SpareStore, copyHandle } from "./spare-store.js";
import { TableState } from "./table-state.js";
import type { Identified } from "./identify-spares.js";
import type { Loaded } from "./open-set.js";
import { encodeSetRecord } from "./main-identity.js";
import { NO_RELOCATIONS, encodeSuperblock } from "./superblock.js";
import { NoValidMetadataError, UpgradeError } from "./errors.js";

/** The newest version 1 state of a set. */
interface V1State {
  readonly snapshot: TableSnapshot;
  readonly generation: number;
  readonly scans: CopyScan[];
  readonly notes: string[];
}

async function recoverV1(identified: Identified): Promise<V1State> {
  const { identity, layout, members } = identified;
  const setUuid = uuidToBytes(identity.uuid);
  const scans: CopyScan[] = [];
  for (const m of members) scans.push(await scanCopyV1(m.device, layout, setUuid));
  const order = members
    .map((_, i) => i)
    .filter((i) => scans[i]!.active >= 0)
    .sort((x, y) => {
      const a = scans[x]!;
      const b = scans[y]!;
      return b.generation - a.generation || b.checkpointGeneration - a.checkpointGeneration || x - y;
    });
  for (const i of order) {
    const s = scans[i]!;
    const slot = s.slots[s.active as 0 | 1];
    const decoded = decodeBody(slot.header!, slot.body!);
    if (typeof decoded === "string") continue;
    const limits = {
      blockCount: Math.ceil(identity.mainSizeBytes / identity.blockSize),
      slotCount: identity.spares.reduce((n, sp) => n + sp.slotCount, 0),
      maxEntries: layout.maxEntries,
      pendingCapacity: layout.pendingCapacity,
      maskBytes: maskBytesFor(identity.blockSize),
    };
    const table = new TableState(decoded, limits);
    const notes: string[] = [];
    for (const records of s.batches) {
      const problem = table.apply(records);
      if (problem) notes.push(`journal batch skipped: ${problem}`);
    }
    return {
      snapshot: { ...table.snapshot(), counters: table.counters },
      generation: s.generation,
      scans,
      notes,
    };
  }
  throw new NoValidMetadataError(
    `set "${identity.name}" (${identity.uuid}): no valid format 1 checkpoint on any spare`,
  );
}

/** Open a version 1 set: upgrade it when it may be written, else a read-only view of it. */
export async function openVersion1(
  identified: Identified,
  options: OpenSetOptions,
  reload: (options: OpenSetOptions) => Promise<Loaded>,
): Promise<Loaded> {
  const state = await recoverV1(identified);
  const { identity, members } = identified;
  const canWrite =
    options.repair !== false &&
    !options.inspect &&
    members.length === identity.spares.length &&
    members.every((m) => !m.device.capabilities.readOnly);
  if (!canWrite) return readOnlyView(identified, state, options);
  const moved = await upgradeSet(identified, state);
  // Identify again: the superblocks are version 2 now.
  const { identified: _old, ...fresh } = options;
  const loaded = await reload(fresh);
  const note = `upgraded set "${identity.name}" (${identity.uuid}) from format 1 to format 2 (${moved} remapped block(s) moved out of the new tail area)`;
  return {
    ...loaded,
    opened: { ...loaded.opened, notes: [note, ...loaded.opened.notes] },
    repaired: true,
    formatVersion: 1,
  };
}

function readOnlyView(identified: Identified, state: V1State, options: OpenSetOptions): Loaded {
  const { identity, layout, members } = identified;
  const reason = `set "${identity.name}" (${identity.uuid}) has format version 1: it is upgraded to version 2 by the next read-write open with every spare (serve, or check --repair)`;
  const handles = members.map((m, i) => {
    const s = state.scans[i]!;
    const h = copyHandle(
      m.device,
      m.spareIndex,
      layout,
      identity.spares[m.spareIndex]!.sizeBytes,
      s.generation,
    );
    h.activeSlot = s.active;
    h.state = s.active < 0 ? "corrupt" : s.generation === state.generation ? "ok" : "stale";
    h.detail = "format version 1";
    if (!options.inspect) h.state = "failed";
    return h;
  });
  const present = new Set(members.map((m) => m.spareIndex));
  const missing: CopyStatus[] = identity.spares
    .filter((s) => !present.has(s.index))
    .map((s) => ({
      device: `missing spare ${s.uuid}`,
      spareIndex: s.index,
      slot: "none",
      generation: 0,
      state: "failed",
      detail: "spare not given",
    }));
  const limits = {
    blockCount: Math.ceil(identity.mainSizeBytes / identity.blockSize),
    slotCount: identity.spares.reduce((n, sp) => n + sp.slotCount, 0),
    maxEntries: layout.maxEntries,
    pendingCapacity: layout.pendingCapacity,
    maskBytes: maskBytesFor(identity.blockSize),
  };
  const position = {
    generation: state.generation,
    checkpointGeneration: state.generation,
    writeOffset: 0,
    usedBytes: 0,
  };
  const store = new SpareStore(
    identity,
    layout,
    new TableState(state.snapshot, limits),
    handles,
    position,
    missing,
  );
  const found = store.copies();
  return {
    opened: { store, snapshot: state.snapshot, notes: [reason, ...state.notes], readOnlyReason: reason },
    store,
    found,
    repaired: false,
    formatVersion: 1,
  };
}

/** Spare index and local slot of global slot `slot`. */
function locate(spares: readonly SpareIdentity[], slot: number): { spare: number; local: number } {
  const s = spares.find((x) => slot >= x.firstSlot && slot < x.firstSlot + x.slotCount);
  if (!s) throw new UpgradeError(`slot ${slot} is outside every spare`);
  return { spare: s.index, local: slot - s.firstSlot };
}

/**
 * Upgrade in place; each step leaves an openable set: (1) copy the data of remapped blocks whose
 * slots fall in the new tail area to free slots, (2) commit that in a version 1 checkpoint, (3) write
 * the tail (checkpoint, then superblocks) of every spare, (4) rewrite the head. Returns the moves.
 */
async function upgradeSet(identified: Identified, state: V1State): Promise<number> {
  const { identity, layout: v1, members } = identified;
  const devices: BlockDevice[] = [];
  for (const m of members) devices[m.spareIndex] = m.device;
  const v2 = upgradedLayout(v1);
  const bs = identity.blockSize;
  let firstSlot = 0;
  const spares: SpareIdentity[] = identity.spares.map((s) => {
    const slotCount = Math.min(s.slotCount, slotCountFor(v2, s.sizeBytes, s.dataOffsetBytes));
    if (slotCount < 1)
      throw new UpgradeError(
        `spare ${s.index} (${devices[s.index]!.describe()}) of set "${identity.name}" is too small for the format 2 tail area of ${SUPERBLOCK_BYTES * 2 + v2.checkpointSlotBytes + v2.journalBytes + v2.tailRelocBytes} bytes`,
      );
    const out = { ...s, slotCount, firstSlot };
    firstSlot += slotCount;
    return out;
  });
  const v1Spares = identity.spares;
  // (1) moves: a remapped block whose slot is retired gets a free kept slot (v1 numbering).
  const { blocks, slots } = state.snapshot;
  const used = new Set(slots);
  const free: number[] = [];
  for (const s of v1Spares)
    for (let k = 0; k < spares[s.index]!.slotCount; k++)
      if (!used.has(s.firstSlot + k)) free.push(s.firstSlot + k);
  const newSlots = Uint32Array.from(slots);
  let moves = 0;
  for (let i = 0; i < blocks.length; i++) {
    const from = locate(v1Spares, slots[i]!);
    if (from.local < spares[from.spare]!.slotCount) continue;
    const target = free.shift();
    if (target === undefined)
      throw new UpgradeError(
        `set "${identity.name}": no free slot to move block ${blocks[i]} out of the format 2 tail area; free some slots (unremap) and open again`,
      );
    const to = locate(v1Spares, target);
    const data = await readBytes(
      devices[from.spare]!,
      v1Spares[from.spare]!.dataOffsetBytes + from.local * bs,
      bs,
    );
    await devices[to.spare]!.write(v1Spares[to.spare]!.dataOffsetBytes + to.local * bs, data);
    newSlots[i] = target;
    moves++;
  }
  const setUuid = uuidToBytes(identity.uuid);
  let generation = state.generation;
  const moved: TableSnapshot = { ...state.snapshot, slots: newSlots };
  if (moves > 0) {
    for (const d of devices) await d.flush();
    // (2) a version 1 checkpoint of the moved table, into each copy's inactive slot.
    generation++;
    const body = encodeBody(moved, v1);
    for (const [i, m] of members.entries()) {
      const active = state.scans[i]!.active;
      const slot = active === 0 ? 1 : 0;
      const image = encodeSlot(
        body,
        setUuid,
        generation,
        { spareIndex: m.spareIndex, end: "head", relocations: NO_RELOCATIONS },
        0,
      );
      // Version 1 readers ignore the version 2 header bytes; mark it format 1 so version 2 scans skip it.
      image[79] = 0;
      const { crc32c } = await import("./crc32c.js");
      new DataView(image.buffer).setUint32(
        CHECKPOINT_HEADER_BYTES - 4,
        crc32c(image, 0, CHECKPOINT_HEADER_BYTES - 4),
        true,
      );
      await m.device.write(slotOffset(v1, slot), image);
    }
    for (const d of devices) await d.flush();
  }
  // (3) and (4): the version 2 table (renumbered slots), tail first, then head.
  generation++;
  const renumbered = Uint32Array.from(newSlots, (s) => {
    const { spare, local } = locate(v1Spares, s);
    return spares[spare]!.firstSlot + local;
  });
  const newIdentity: SetIdentity = { ...identity, spares };
  const record = encodeSetRecord({ spares: newIdentity.spares.map((s) => devices[s.index]!.describe()) });
  const body = encodeBody({ ...moved, slots: renumbered }, v2, record);
  for (const end of [...ENDS].reverse()) {
    for (const m of members) {
      const g = endGeometry(v2, end, spares[m.spareIndex]!.sizeBytes);
      const place = { spareIndex: m.spareIndex, end, relocations: NO_RELOCATIONS };
      await m.device.write(g.slot, encodeSlot(body, setUuid, generation, place, 0));
    }
    for (const d of devices) await d.flush();
    for (const m of members) {
      const g = endGeometry(v2, end, spares[m.spareIndex]!.sizeBytes);
      const sb = encodeSuperblock({
        identity: newIdentity,
        layout: v2,
        spareIndex: m.spareIndex,
        relocations: NO_RELOCATIONS,
      });
      await m.device.write(g.superblocks[0], sb);
      await m.device.write(g.superblocks[1], sb);
    }
    for (const d of devices) await d.flush();
  }
  return moves;
}
