// The MetadataStore conformance suite: one set of tests that the real spare store and every fake
// (the in-memory store of the remap tests) must pass, so a fake cannot drift from the real thing.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Prng } from "../block/prng.js";
import { InvalidRecordError, MetadataClosedError, MetadataWriteError } from "./errors.js";
import type { JournalRecord, OpenedSet } from "./metadata-store.js";
import { emptySnapshot } from "./table-state.js";
import { TableModel, canonical } from "./test-fixtures.js";

/** One set under test: its opened store, and the two things a test does to its media. */
export interface StoreUnderTest {
  readonly opened: OpenedSet;
  /** Open the set again from what is durable (the caller closes the old store first). */
  reopen(): Promise<OpenedSet>;
  /** From now on, no metadata copy can be written (every write or flush fails). */
  breakWrites(): void;
}

/** Makes a fresh set of 512-byte blocks with `blocks` main blocks and at least 8 spare slots. */
export type StoreFactory = (blocks: number) => Promise<StoreUnderTest>;

const BLOCKS = 128;

const remap = (block: number, slot: number): JournalRecord => ({
  type: "remap",
  block,
  slot,
  reason: "manual",
});

function slotCount(opened: OpenedSet): number {
  return opened.store.identity.spares.reduce((n, s) => n + s.slotCount, 0);
}

/** Run the MetadataStore contract against `make`. */
export function metadataStoreContract(label: string, make: StoreFactory): void {
  describe(`MetadataStore contract: ${label}`, () => {
    it("a new set is empty, has a positive generation and healthy copies", async () => {
      const { opened } = await make(BLOCKS);
      assert.equal(canonical(opened.snapshot), "||");
      assert.ok(opened.store.generation >= 1);
      assert.equal(opened.store.identity.blockSize, 512);
      assert.ok(slotCount(opened) >= 8);
      assert.equal(opened.store.wantsCheckpoint, false);
      assert.ok(opened.store.copies().length >= 1);
      assert.ok(opened.store.copies().every((c) => c.state === "ok"));
      await opened.store.close();
    });

    it("appended records survive a reopen, and the generation only grows", async () => {
      const set = await make(BLOCKS);
      const model = new TableModel();
      const rng = new Prng(11);
      let store = set.opened.store;
      let last = store.generation;
      for (let round = 0; round < 4; round++) {
        for (let i = 0; i < 5; i++) {
          const records = model.randomRecords(rng, 1 + rng.nextInt(4), BLOCKS, slotCount(set.opened));
          model.apply(records);
          await store.append(records);
          assert.ok(store.generation > last, "an append raises the generation");
          last = store.generation;
        }
        await store.close();
        const again = await set.reopen();
        assert.equal(canonical(again.snapshot), model.canonical());
        assert.equal(again.store.generation, last, "the generation is read back");
        store = again.store;
      }
      await store.close();
    });

    it("a checkpoint keeps every committed record and persists the counters it is given", async () => {
      const set = await make(BLOCKS);
      const store = set.opened.store;
      await store.append([remap(3, 0), { type: "pending", block: 9 }]);
      const before = store.generation;
      // The table passed in is ignored: the store writes its own, so an append is never lost.
      await store.checkpoint({ ...emptySnapshot(), counters: { "errors.read": 4 } });
      assert.ok(store.generation > before, "a checkpoint raises the generation");
      await store.close();
      const again = await set.reopen();
      assert.equal(canonical(again.snapshot), "3:0|9|");
      assert.equal(again.snapshot.counters["errors.read"], 4);
      await again.store.close();
    });

    it("an empty append changes nothing", async () => {
      const { opened } = await make(BLOCKS);
      const before = opened.store.generation;
      await opened.store.append([]);
      assert.equal(opened.store.generation, before);
      await opened.store.close();
    });

    it("a malformed record is refused with InvalidRecordError (EMETARECORD) and nothing is written", async () => {
      const set = await make(BLOCKS);
      const store = set.opened.store;
      const slots = slotCount(set.opened);
      const bad: JournalRecord[] = [
        { type: "pending", block: -1 },
        { type: "pending", block: BLOCKS },
        { type: "clear-pending", block: 1.5 },
        remap(1, slots),
        { type: "lost", block: 1, sectorMask: new Uint8Array(9) },
      ];
      const before = store.generation;
      for (const record of bad) {
        await assert.rejects(
          store.append([remap(2, 1), record]),
          (err: unknown) => err instanceof InvalidRecordError && err.code === "EMETARECORD",
          JSON.stringify(record),
        );
      }
      assert.equal(store.generation, before);
      await store.close();
      const again = await set.reopen();
      assert.equal(canonical(again.snapshot), "||", "no part of a refused append is durable");
      await again.store.close();
    });

    it("when no copy can be written, append and checkpoint fail with MetadataWriteError (EMETAWRITE), for good", async () => {
      const set = await make(BLOCKS);
      const store = set.opened.store;
      await store.append([remap(1, 0)]);
      set.breakWrites();
      const isWriteError = (err: unknown) => err instanceof MetadataWriteError && err.code === "EMETAWRITE";
      await assert.rejects(store.append([remap(2, 1)]), isWriteError);
      await assert.rejects(store.append([remap(3, 2)]), isWriteError);
      await assert.rejects(store.checkpoint(emptySnapshot()), isWriteError);
      assert.ok(
        store.copies().every((c) => c.state === "failed"),
        "every copy is reported failed",
      );
      await store.close();
    });

    it("after close, append and checkpoint fail with MetadataClosedError (EMETACLOSED)", async () => {
      const { opened } = await make(BLOCKS);
      await opened.store.close();
      const isClosed = (err: unknown) => err instanceof MetadataClosedError && err.code === "EMETACLOSED";
      await assert.rejects(opened.store.append([remap(1, 0)]), isClosed);
      await assert.rejects(opened.store.checkpoint(emptySnapshot()), isClosed);
    });
  });
}
