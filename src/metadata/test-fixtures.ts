// Helpers shared by the metadata tests: small sets on memory devices, a switchable failing layer,
// an oracle model of the table and a canonical text form of snapshots.
import type { BlockDevice, DeviceCapabilities, WriteOptions } from "../block/block-device.js";
import { LayerDevice, readBytes } from "../block/base-device.js";
import { MediumError } from "../block/errors.js";
import { MemoryDevice } from "../block/memory-device.js";
import type { Prng } from "../block/prng.js";
import type { JournalRecord, OpenedSet, TableSnapshot } from "./metadata-store.js";
import { type CreateSetExtraOptions, createSet } from "./create-set.js";

/** A layer whose writes and flushes can be made to fail. */
export class FailingDevice extends LayerDevice {
  readonly name: string;
  failWrites = false;
  failFlushes = false;
  readOnly = false;
  constructor(lower: BlockDevice, name: string) {
    super(lower);
    this.name = name;
  }
  override get capabilities(): DeviceCapabilities {
    return { ...this.lower.capabilities, readOnly: this.readOnly };
  }
  protected override _write(offsetBytes: number, data: Uint8Array, options: WriteOptions): Promise<void> {
    if (this.failWrites) return Promise.reject(new MediumError(this.name, "write", offsetBytes, data.length));
    return super._write(offsetBytes, data, options);
  }
  protected override _flush(): Promise<void> {
    if (this.failFlushes) return Promise.reject(new MediumError(this.name, "flush", 0, 0));
    return super._flush();
  }
  describe(): string {
    return this.name;
  }
}

/** Options of makeSet. */
export interface SmallSetOptions {
  readonly spares?: number;
  readonly spareBytes?: number;
  readonly mainBytes?: number;
  readonly blockSize?: number;
  readonly journalBytes?: number;
}

/** A set on memory devices: main 64 KiB, 2 spares of 256 KiB, 512-byte blocks, 8 KiB journal. */
export async function makeSet(
  o: SmallSetOptions = {},
): Promise<{ main: MemoryDevice; spares: FailingDevice[]; opened: OpenedSet }> {
  const main = new MemoryDevice({ sizeBytes: o.mainBytes ?? 65536, name: "main" });
  const spares = Array.from(
    { length: o.spares ?? 2 },
    (_, i) => new FailingDevice(new MemoryDevice({ sizeBytes: o.spareBytes ?? 262144 }), `spare${i}`),
  );
  const options: CreateSetExtraOptions = {
    main,
    spares,
    blockSize: o.blockSize ?? 512,
    name: "test",
    journalBytes: o.journalBytes ?? 8192,
  };
  return { main, spares, opened: await createSet(options) };
}

/** Copy a device's bytes into a new memory device (a fresh "disk" with the same content). */
export async function cloneDevice(device: BlockDevice, name: string): Promise<FailingDevice> {
  const copy = new MemoryDevice({ sizeBytes: device.sizeBytes });
  await copy.write(0, await readBytes(device, 0, device.sizeBytes));
  return new FailingDevice(copy, name);
}

/** The oracle: the table as plain maps. */
export class TableModel {
  readonly remap = new Map<number, number>();
  readonly pending = new Set<number>();
  readonly lost = new Map<number, string>();
  readonly mirrors = new Map<number, number>();

  apply(records: readonly JournalRecord[]): void {
    for (const r of records) {
      if (r.type === "remap") this.remap.set(r.block, r.slot);
      else if (r.type === "unremap") {
        this.remap.delete(r.block);
        this.lost.delete(r.block);
        this.mirrors.delete(r.block);
      } else if (r.type === "mirror") {
        if (r.slot === 0xffffffff) this.mirrors.delete(r.block);
        else this.mirrors.set(r.block, r.slot);
      } else if (r.type === "pending") this.pending.add(r.block);
      else if (r.type === "clear-pending") this.pending.delete(r.block);
      else if (r.sectorMask.some((b) => b !== 0))
        this.lost.set(r.block, Buffer.from(r.sectorMask).toString("hex"));
      else this.lost.delete(r.block);
    }
  }

  canonical(): string {
    const remap = [...this.remap].sort((a, b) => a[0] - b[0]).map(([b, s]) => `${b}:${s}`);
    const lost = [...this.lost].sort((a, b) => a[0] - b[0]).map(([b, m]) => `${b}:${m}`);
    const mirrors = [...this.mirrors].sort((a, b) => a[0] - b[0]).map(([b, s]) => `${b}:${s}`);
    const base = `${remap.join(",")}|${[...this.pending].sort((a, b) => a - b).join(",")}|${lost.join(",")}`;
    return mirrors.length > 0 ? `${base}|m:${mirrors.join(",")}` : base;
  }

  /** Random valid records (blocks < blockCount, slots < slotCount) for a few table changes. */
  randomRecords(rng: Prng, count: number, blockCount: number, slotCount: number): JournalRecord[] {
    const out: JournalRecord[] = [];
    const trial = new TableModel();
    for (const [b, s] of this.remap) trial.remap.set(b, s);
    for (let i = 0; i < count; i++) {
      const block = rng.nextInt(blockCount);
      const kind = rng.nextInt(6);
      let r: JournalRecord;
      if (kind <= 1 && !trial.remap.has(block)) {
        const used = new Set(trial.remap.values());
        let slot = rng.nextInt(slotCount);
        while (used.has(slot) && used.size < slotCount) slot = (slot + 1) % slotCount;
        r = {
          type: "remap",
          block,
          slot,
          reason: (["write-error", "read-error", "migrate", "manual"] as const)[rng.nextInt(4)]!,
        };
      } else if (kind <= 1) r = { type: "unremap", block };
      else if (kind === 2) r = { type: "pending", block };
      else if (kind === 3) r = { type: "clear-pending", block };
      else
        r = {
          type: "lost",
          block,
          sectorMask: Uint8Array.of(rng.nextInt(3) === 0 ? 0 : 1 + rng.nextInt(255)),
        };
      trial.apply([r]);
      out.push(r);
    }
    return out;
  }
}

/** Canonical text of a snapshot's table (same form as TableModel.canonical). */
export function canonical(s: TableSnapshot): string {
  const remap = Array.from(s.blocks, (b, i) => `${b}:${s.slots[i]}`);
  const lost = [...s.lost]
    .sort((a, b) => a[0] - b[0])
    .map(([b, m]) => `${b}:${Buffer.from(m).toString("hex")}`);
  const base = `${remap.join(",")}|${Array.from(s.pending).join(",")}|${lost.join(",")}`;
  const m = s.mirrors;
  if (!m || m.blocks.length === 0) return base;
  return `${base}|m:${Array.from(m.blocks, (b, i) => `${b}:${m.slots[i]}`).join(",")}`;
}
