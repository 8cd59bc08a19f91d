// createSet: validates the devices, sizes the metadata area and writes a fresh set to both ends of
// every spare (superblocks, an empty checkpoint at generation 1, an empty journal), then flushes.
import { randomUUID } from "node:crypto";
import type { BlockDevice } from "../block/block-device.js";
import type { CreateSetOptions, OpenedSet, SetIdentity, SpareIdentity } from "./metadata-store.js";
import { encodeBody, encodeSlot } from "./checkpoint-codec.js";
import {
  CHECKPOINT_HEADER_BYTES,
  DEFAULT_PENDING_CAPACITY,
  ENDS,
  MAX_SPARES,
  SUPERBLOCK_BYTES,
  computeLayout,
  defaultJournalBytes,
  endGeometry,
  mainFingerprint,
  maskBytesFor,
  roundUp,
  slotCountFor,
  tailBytes,
  uuidToBytes,
} from "./layout.js";
import { scanSuperblocksAt } from "./scan-copy.js";
import { NO_RELOCATIONS, SUPERBLOCK_MAGIC, encodeSuperblock } from "./superblock.js";
import { SpareStore, copyHandle } from "./spare-store.js";
import { encodeSetRecord } from "./main-identity.js";
import { TableState, emptySnapshot } from "./table-state.js";
import { SetOptionError, SpareInUseError, SpareTooSmallError } from "./errors.js";

/** Options of createSet beyond the shared contract (tests use them to get small areas). */
export interface CreateSetExtraOptions extends CreateSetOptions {
  /** Bytes of the journal ring (multiple of 4096, at least 8192); default: smallest spare / 16, 16K..1M. */
  readonly journalBytes?: number;
  /** Most pending blocks a checkpoint holds; default min(65536, blocks of main). */
  readonly pendingCapacity?: number;
  /** 2: every remapped block gets two copies on two different spares (needs at least 2 spares). */
  readonly mirrorCopies?: 1 | 2;
}

/** Validate a block size: a power of two, 512..65536. */
export function checkBlockSize(blockSize: number): void {
  if (
    !Number.isInteger(blockSize) ||
    blockSize < 512 ||
    blockSize > 65536 ||
    (blockSize & (blockSize - 1)) !== 0
  ) {
    throw new SetOptionError(`block size ${blockSize} is not a power of two between 512 and 65536`);
  }
}

async function refuseFormatted(spare: BlockDevice): Promise<void> {
  const scans = [await scanSuperblocksAt(spare, "head"), await scanSuperblocksAt(spare, "tail")];
  const hasMagic = scans.some((scan) =>
    [0, SUPERBLOCK_BYTES].some(
      (at) => scan && Buffer.from(scan.raw.subarray(at, at + 8)).toString("latin1") === SUPERBLOCK_MAGIC,
    ),
  );
  if (!hasMagic) return;
  const found = scans.flatMap((scan) => scan?.copies ?? []).find((c) => c.ok);
  const what = found?.ok ? ` of set "${found.sb.identity.name}" (${found.sb.identity.uuid})` : "";
  throw new SpareInUseError(
    spare.describe(),
    `spare ${spare.describe()} already holds dmremap metadata${what}; use force to overwrite it`,
  );
}

/** Create a new set on blank spares and return it opened. */
export async function createSet(options: CreateSetExtraOptions): Promise<OpenedSet> {
  const { main, spares, blockSize } = options;
  checkBlockSize(blockSize);
  if (spares.length === 0) throw new SetOptionError("a set needs at least one spare device");
  if (spares.length > MAX_SPARES)
    throw new SetOptionError(`${spares.length} spares given, a set holds at most ${MAX_SPARES}`);
  if (new Set(spares).size !== spares.length || spares.includes(main)) {
    throw new SetOptionError("the same device is given twice (main and spares must all differ)");
  }
  if (Buffer.byteLength(options.name, "utf8") > 256)
    throw new SetOptionError(`set name "${options.name}" is longer than 256 bytes`);
  if (main.sizeBytes < blockSize)
    throw new SetOptionError(
      `main device ${main.describe()} (${main.sizeBytes} bytes) is smaller than one block of ${blockSize}`,
    );
  const mirrorCopies = options.mirrorCopies ?? 1;
  if (mirrorCopies !== 1 && mirrorCopies !== 2)
    throw new SetOptionError(`mirror ${String(mirrorCopies)} is not supported (1 or 2 copies)`);
  if (mirrorCopies === 2 && spares.length < 2)
    throw new SetOptionError(
      `mirror 2 needs at least 2 spare devices (${spares.length} given): each copy lives on a different spare`,
    );
  if (!options.force) for (const s of spares) await refuseFormatted(s);

  const blockCount = Math.ceil(main.sizeBytes / blockSize);
  const slotUpperBound = spares.reduce((n, s) => n + Math.floor(s.sizeBytes / blockSize), 0);
  const pendingCapacity = options.pendingCapacity ?? Math.min(DEFAULT_PENDING_CAPACITY, blockCount);
  const journalBytes =
    options.journalBytes ?? defaultJournalBytes(Math.min(...spares.map((s) => s.sizeBytes)));
  if (!Number.isInteger(journalBytes) || journalBytes % 4096 !== 0 || journalBytes < 8192) {
    throw new SetOptionError(`journal size ${journalBytes} is not a multiple of 4096 of at least 8192`);
  }
  if (!Number.isInteger(pendingCapacity) || pendingCapacity < 0)
    throw new SetOptionError(`pending capacity ${pendingCapacity} is not a non-negative integer`);
  const layout = computeLayout(
    blockSize,
    Math.min(blockCount, slotUpperBound),
    pendingCapacity,
    journalBytes,
    mirrorCopies,
  );
  const dataOffsetBytes = roundUp(layout.metadataBytes, blockSize);

  const spareIds: SpareIdentity[] = [];
  let firstSlot = 0;
  for (const [index, s] of spares.entries()) {
    const slotCount = slotCountFor(layout, s.sizeBytes, dataOffsetBytes);
    if (slotCount < 1) {
      throw new SpareTooSmallError(
        s.describe(),
        `spare ${s.describe()} (${s.sizeBytes} bytes) is too small: the metadata areas need ${dataOffsetBytes} bytes at the head and ${tailBytes(layout)} at the tail, plus at least one ${blockSize}-byte slot`,
      );
    }
    spareIds.push({
      uuid: randomUUID(),
      index,
      sizeBytes: s.sizeBytes,
      dataOffsetBytes,
      slotCount,
      firstSlot,
    });
    firstSlot += slotCount;
  }
  if (firstSlot > 0xffffffff)
    throw new SetOptionError(`${firstSlot} spare slots exceed the 2^32 limit; use a larger block size`);
  const identity: SetIdentity = {
    uuid: randomUUID(),
    name: options.name,
    blockSize,
    mainSizeBytes: main.sizeBytes,
    mainFingerprint: mainFingerprint(main.sizeBytes, blockSize),
    mainSpec: options.mainSpec ?? main.describe(),
    spares: spareIds,
    createdAtMs: Date.now(),
    ...(mirrorCopies === 2 ? { mirrorCopies: 2 as const } : {}),
  };
  const setUuid = uuidToBytes(identity.uuid);
  const record = {
    ...(options.mainIdentity ? { main: options.mainIdentity } : {}),
    spares: spares.map((s) => s.describe()),
  };
  const body = encodeBody(emptySnapshot(), layout, encodeSetRecord(record));
  const sector = new Uint8Array(CHECKPOINT_HEADER_BYTES);
  for (const [index, s] of spares.entries()) {
    for (const end of ENDS) {
      const g = endGeometry(layout, end, s.sizeBytes);
      const place = { spareIndex: index, end, relocations: NO_RELOCATIONS };
      await s.write(g.slot, encodeSlot(body, setUuid, 1, place, 0));
      await s.write(g.journal, sector);
      await s.write(g.reloc, sector);
    }
  }
  for (const s of spares) await s.flush();
  for (const [index, s] of spares.entries()) {
    const sb = encodeSuperblock({ identity, layout, spareIndex: index, relocations: NO_RELOCATIONS });
    for (const end of ENDS) {
      const g = endGeometry(layout, end, s.sizeBytes);
      await s.write(g.superblocks[0], sb);
      await s.write(g.superblocks[1], sb);
    }
  }
  for (const s of spares) await s.flush();

  const limits = {
    blockCount,
    slotCount: firstSlot,
    maxEntries: layout.maxEntries,
    pendingCapacity,
    maskBytes: maskBytesFor(blockSize),
  };
  const handles = spares.map((device, spareIndex) =>
    copyHandle(device, spareIndex, layout, device.sizeBytes, 1),
  );
  const position = { generation: 1, checkpointGeneration: 1, writeOffset: 0, usedBytes: 0 };
  const table = new TableState(emptySnapshot(), limits);
  const store = new SpareStore(identity, layout, table, handles, position, [], record);
  return {
    store,
    snapshot: emptySnapshot(),
    missingSpares: [],
    ...(options.mainIdentity ? { mainIdentity: options.mainIdentity } : {}),
    notes: [
      `created set "${identity.name}" (${identity.uuid}) with ${spares.length} spare(s), ${firstSlot} slots${mirrorCopies === 2 ? ", mirrored (2 copies)" : ""}`,
    ],
  };
}
