// An in-memory ControlTarget for tests of the API and metrics: a remap table, pending set and counters
// that tests change directly, with the errors a real target raises. The ControlTarget contract suite
// (control-target.contract.ts) runs against it and against a real target, so the two cannot drift.

import { NoSpaceError, ReadOnlyError } from "../block/errors.js";
import { BlockRangeError, BlockStateError } from "../remap/errors.js";
import type { ControlTarget, FaultRuleView, RemapEntryView, RemapPage, TargetStatus } from "./target.js";

/** Where the fake's one spare keeps its first data slot (after its metadata area). */
const FAKE_DATA_OFFSET_BYTES = 1 << 20;

/** Options of FakeControlTarget. */
export interface FakeControlTargetOptions {
  readonly name: string;
  readonly exportName?: string;
  readonly blocks?: number;
  readonly blockSize?: number;
  readonly spareSlots?: number;
  /** Give the target a fault-control surface. */
  readonly faults?: boolean;
}

/** A fake target whose state tests set directly. */
export class FakeControlTarget implements ControlTarget {
  readonly name: string;
  readonly exportName: string;
  readonly blockSize: number;
  readonly blocks: number;
  readonly spareSlots: number;
  state: TargetStatus["state"] = "healthy";
  reason: string | undefined;
  readonly remaps = new Map<number, number>();
  readonly pending = new Set<number>();
  readonly errors = { read: 0, write: 0 };
  readonly remapReasons: Record<string, number> = {};
  readonly io = { reads: 0, writes: 0, bytesRead: 0, bytesWritten: 0 };
  generation = 1;
  copies = [{ device: "file:/spare0.img", slot: "A", state: "ok" }];
  readonly faults?: ControlTarget["faults"];
  readonly faultRules: FaultRuleView[] = [];

  constructor(options: FakeControlTargetOptions) {
    this.name = options.name;
    this.exportName = options.exportName ?? options.name;
    this.blocks = options.blocks ?? 1024;
    this.blockSize = options.blockSize ?? 4096;
    this.spareSlots = options.spareSlots ?? 8;
    if (options.faults) {
      this.faults = {
        list: () => [...this.faultRules],
        add: (rule) => void this.faultRules.push(rule),
        clear: () => void this.faultRules.splice(0),
        status: () => ({ rules: this.faultRules.length }),
      };
    }
  }

  status(): TargetStatus {
    const used = this.remaps.size;
    return {
      name: this.name,
      uuid: "00000000-0000-4000-8000-000000000001",
      state: this.state,
      ...(this.reason !== undefined ? { reason: this.reason } : {}),
      blockSize: this.blockSize,
      sizeBytes: this.blocks * this.blockSize,
      remappedBlocks: used,
      pendingBlocks: this.pending.size,
      lostSectors: 0,
      spare: {
        totalBlocks: this.spareSlots,
        usedBlocks: used,
        freeBlocks: this.spareSlots - used,
        nearlyExhausted: this.spareSlots - used <= this.spareSlots / 10,
      },
      errors: { ...this.errors },
      remaps: { ...this.remapReasons },
      io: { ...this.io },
      metadata: { generation: this.generation, copies: this.copies.map((c) => ({ ...c })) },
    };
  }

  list(options: { cursor?: number; limit: number }): RemapPage {
    const sorted = [...this.remaps.entries()].sort((a, b) => a[0] - b[0]);
    const from = sorted.filter(([block]) => block >= (options.cursor ?? 0));
    const page = from.slice(0, options.limit);
    const entries: RemapEntryView[] = page.map(([block, slot]) => ({
      block,
      slot,
      spare: 0,
      spareOffsetBytes: FAKE_DATA_OFFSET_BYTES + slot * this.blockSize,
      lostSectors: [],
    }));
    const next = from[options.limit];
    return { entries, total: sorted.length, ...(next ? { nextCursor: next[0] } : {}) };
  }

  pendingBlocks(): readonly number[] {
    return [...this.pending].sort((a, b) => a - b);
  }

  async remapBlock(block: number): Promise<void> {
    this.checkWritable();
    this.checkBlock(block);
    // A pending block has no data to copy: like the real target, leave it for its next write.
    if (this.remaps.has(block) || this.pending.has(block)) return;
    const taken = new Set(this.remaps.values());
    const slot = [...Array(this.spareSlots).keys()].find((s) => !taken.has(s));
    if (slot === undefined) throw new NoSpaceError(this.name, `no spare slot left for block ${block}`);
    this.remaps.set(block, slot);
    this.pending.delete(block);
    this.remapReasons.manual = (this.remapReasons.manual ?? 0) + 1;
    this.generation++;
  }

  async unremapBlock(block: number): Promise<void> {
    this.checkWritable();
    this.checkBlock(block);
    if (!this.remaps.delete(block)) throw new BlockStateError(this.name, block, "is not remapped");
    this.generation++;
  }

  async markPending(block: number): Promise<void> {
    this.checkWritable();
    this.checkBlock(block);
    if (this.remaps.has(block)) throw new BlockStateError(this.name, block, "is remapped; its data is known");
    this.pending.add(block);
    this.generation++;
  }

  async clearPending(block: number): Promise<void> {
    this.checkWritable();
    this.checkBlock(block);
    this.pending.delete(block);
    this.generation++;
  }

  private checkBlock(block: number): void {
    if (!Number.isSafeInteger(block) || block < 0 || block >= this.blocks) {
      throw new BlockRangeError(this.name, block, this.blocks);
    }
  }

  private checkWritable(): void {
    if (this.state === "read-only" || this.state === "failed") {
      throw new ReadOnlyError(this.name, this.reason ?? this.state);
    }
  }
}
