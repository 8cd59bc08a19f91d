// createSet: validates the devices, sizes the metadata area and writes a fresh set (superblocks,
// an empty checkpoint at generation 1 in slot A, an empty journal) to every spare, then flushes.
import { randomUUID } from "node:crypto";
import type { BlockDevice } from "../block/block-device.js";
import type { CreateSetOptions, OpenedSet, SetIdentity, SpareIdentity } from "./metadata-store.js";
import { encodeBody, encodeSlot } from "./checkpoint-codec.js";
import {
  CHECKPOINT_HEADER_BYTES,
  DEFAULT_PENDING_CAPACITY,
  MAX_SPARES,
  SUPERBLOCK_BYTES,
  computeLayout,
  defaultJournalBytes,
  journalOffset,
  mainFingerprint,
  maskBytesFor,
  roundUp,
  slotOffset,
  uuidToBytes,
} from "./layout.js";
import { scanSuperblocks } from "./scan-copy.js";
import { SUPERBLOCK_MAGIC, encodeSuperblock } from "./superblock.js";
import { SpareStore } from "./spare-store.js";
import { TableState, emptySnapshot } from "./table-state.js";
import { SetOptionError, SpareInUseError, SpareTooSmallError } from "./errors.js";

/** Options of createSet beyond the shared contract (tests use them to get small areas). */
export interface CreateSetExtraOptions extends CreateSetOptions {
  /** Bytes of the journal ring (multiple of 4096, at least 8192); default: smallest spare / 16, 16K..1M. */
  readonly journalBytes?: number;
  /** Most pending blocks a checkpoint holds; default min(65536, blocks of main). */
  readonly pendingCapacity?: number;
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
  const scan = await scanSuperblocks(spare);
  if (!scan) return;
  const hasMagic = [0, SUPERBLOCK_BYTES].some(
    (at) => Buffer.from(scan.raw.subarray(at, at + 8)).toString("latin1") === SUPERBLOCK_MAGIC,
  );
  if (!hasMagic) return;
  const found = scan.copies.find((c) => c.ok);
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
  );
  const dataOffsetBytes = roundUp(layout.metadataBytes, blockSize);

  const spareIds: SpareIdentity[] = [];
  let firstSlot = 0;
  for (const [index, s] of spares.entries()) {
    const slotCount = Math.floor((s.sizeBytes - dataOffsetBytes) / blockSize);
    if (slotCount < 1) {
      throw new SpareTooSmallError(
        s.describe(),
        `spare ${s.describe()} (${s.sizeBytes} bytes) is too small: the metadata area needs ${dataOffsetBytes} bytes plus at least one ${blockSize}-byte slot`,
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
  };
  const setUuid = uuidToBytes(identity.uuid);
  const body = encodeBody(emptySnapshot(), layout);
  const sector = new Uint8Array(CHECKPOINT_HEADER_BYTES);
  for (const [index, s] of spares.entries()) {
    await s.write(slotOffset(layout, 0), encodeSlot(body, setUuid, 1, index, 0));
    await s.write(slotOffset(layout, 1), sector);
    await s.write(journalOffset(layout), sector);
    const sb = encodeSuperblock({ identity, layout, spareIndex: index });
    await s.write(0, sb);
    await s.write(SUPERBLOCK_BYTES, sb);
  }
  for (const s of spares) await s.flush();

  const limits = {
    blockCount,
    slotCount: firstSlot,
    maxEntries: layout.maxEntries,
    pendingCapacity,
    maskBytes: maskBytesFor(blockSize),
  };
  const handles = spares.map((device, spareIndex) => ({
    device,
    spareIndex,
    activeSlot: 0 as const,
    generation: 1,
    state: "ok" as const,
  }));
  const position = { generation: 1, checkpointGeneration: 1, writeOffset: 0, usedBytes: 0 };
  const store = new SpareStore(identity, layout, new TableState(emptySnapshot(), limits), handles, position);
  return {
    store,
    snapshot: emptySnapshot(),
    notes: [
      `created set "${identity.name}" (${identity.uuid}) with ${spares.length} spare(s), ${firstSlot} slots`,
    ],
  };
}
