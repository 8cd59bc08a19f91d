// The ControlTarget conformance suite: the fake control target of the API tests and the real one
// (controlTarget() over a RemappedDevice) must both pass it, so API tests on the fake stay true.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { NoSpaceError, ReadOnlyError } from "../block/errors.js";
import { BlockRangeError, BlockStateError } from "../remap/errors.js";
import { problemFromError } from "./http-problem.js";
import type { ControlTarget, RemapEntryView } from "./target.js";

/** One target under test, all of whose blocks are readable. */
export interface ControlTargetUnderTest {
  readonly target: ControlTarget;
  /** Make the target refuse every change from now on, as after a metadata failure. */
  makeReadOnly(reason: string): void;
  close(): Promise<void>;
}

/**
 * Makes a fresh, healthy target of `blocks` blocks with between 4 and 64 spare slots; with
 * `faults`, the target has a fault-control surface (no rule yet).
 */
export type ControlTargetFactory = (
  blocks: number,
  options?: { readonly faults?: boolean },
) => Promise<ControlTargetUnderTest>;

const BLOCKS = 64;

type Verb = "remapBlock" | "unremapBlock" | "markPending" | "clearPending";
const VERBS: readonly Verb[] = ["remapBlock", "unremapBlock", "markPending", "clearPending"];

/** Every entry, following cursors from the start with pages of `limit`. */
function listAll(target: ControlTarget, limit: number): { blocks: number[]; pages: number } {
  const blocks: number[] = [];
  let cursor: number | undefined;
  let pages = 0;
  do {
    const page = target.list(cursor === undefined ? { limit } : { cursor, limit });
    pages++;
    assert.ok(page.entries.length <= limit, "a page holds at most `limit` entries");
    blocks.push(...page.entries.map((e: RemapEntryView) => e.block));
    cursor = page.nextCursor;
  } while (cursor !== undefined && pages < 100);
  return { blocks, pages };
}

async function withTarget(
  make: ControlTargetFactory,
  use: (t: ControlTargetUnderTest) => Promise<void>,
  options: { faults?: boolean } = {},
) {
  const under = await make(BLOCKS, options);
  try {
    await use(under);
  } finally {
    await under.close();
  }
}

/** Run the ControlTarget contract against `make`. */
export function controlTargetContract(label: string, make: ControlTargetFactory): void {
  describe(`ControlTarget contract: ${label}`, () => {
    it("a new target is healthy and empty", () =>
      withTarget(make, async ({ target }) => {
        const s = target.status();
        assert.equal(s.state, "healthy");
        assert.equal(s.sizeBytes, BLOCKS * s.blockSize);
        assert.deepEqual([s.remappedBlocks, s.pendingBlocks, s.lostSectors], [0, 0, 0]);
        assert.equal(s.spare.usedBlocks, 0);
        assert.equal(s.spare.freeBlocks, s.spare.totalBlocks);
        assert.ok(
          s.spare.totalBlocks >= 4 && s.spare.totalBlocks <= 64,
          `${s.spare.totalBlocks} spare slots`,
        );
        assert.deepEqual(target.list({ limit: 10 }), { entries: [], total: 0 });
        assert.deepEqual(target.pendingBlocks(), []);
      }));

    it("remap shows the block in list and status; a second remap is a no-op", () =>
      withTarget(make, async ({ target }) => {
        await target.remapBlock(5);
        await target.remapBlock(5);
        const page = target.list({ limit: 10 });
        assert.deepEqual(
          page.entries.map((e) => [e.block, e.lostSectors.length]),
          [[5, 0]],
        );
        assert.equal(page.total, 1);
        assert.equal(typeof page.entries[0]!.spareOffsetBytes, "number");
        assert.equal(
          page.entries[0]!.spareOffsetBytes! % target.status().blockSize,
          0,
          "slots are block-aligned",
        );
        const s = target.status();
        assert.equal(s.remappedBlocks, 1);
        assert.equal(s.spare.usedBlocks, 1);
        assert.equal(s.spare.freeBlocks, s.spare.totalBlocks - 1);
      }));

    it("unremap frees a remapped block; unremap of a block that is not remapped is a 409 EBLOCKSTATE", () =>
      withTarget(make, async ({ target }) => {
        await target.remapBlock(7);
        await target.unremapBlock(7);
        assert.deepEqual(target.list({ limit: 10 }).entries, []);
        assert.equal(target.status().spare.usedBlocks, 0);
        let thrown: unknown;
        await assert.rejects(target.unremapBlock(7), (err: unknown) => {
          thrown = err;
          return (
            err instanceof BlockStateError &&
            err.code === "EBLOCKSTATE" &&
            /block 7: is not remapped/.test(err.message)
          );
        });
        const { problem, known } = problemFromError(thrown, "/v1/targets/t/unremap");
        assert.deepEqual([problem.status, problem.code, known], [409, "EBLOCKSTATE", true]);
      }));

    it("pending: mark, list, clear; a remapped block cannot be marked; remap leaves a pending block pending", () =>
      withTarget(make, async ({ target }) => {
        await target.markPending(9);
        await target.markPending(3);
        assert.deepEqual(target.pendingBlocks(), [3, 9]);
        assert.equal(target.status().pendingBlocks, 2);
        // A pending block has no readable data to copy; its next write remaps it.
        await target.remapBlock(9);
        assert.equal(target.status().remappedBlocks, 0);
        assert.deepEqual(target.pendingBlocks(), [3, 9]);
        await target.clearPending(9);
        await target.clearPending(9);
        assert.deepEqual(target.pendingBlocks(), [3]);
        await target.remapBlock(4);
        await assert.rejects(
          target.markPending(4),
          (err: unknown) => err instanceof BlockStateError && err.code === "EBLOCKSTATE",
        );
      }));

    it("every verb refuses a block outside the device with BlockRangeError (ERANGE, 400)", () =>
      withTarget(make, async ({ target }) => {
        for (const verb of VERBS) {
          for (const block of [BLOCKS, -1, 2.5]) {
            await assert.rejects(
              target[verb](block),
              (err: unknown) =>
                err instanceof BlockRangeError &&
                err.code === "ERANGE" &&
                problemFromError(err, "/").problem.status === 400,
              `${verb}(${block})`,
            );
          }
        }
        assert.equal(target.status().remappedBlocks, 0);
      }));

    it("remapping past the last spare slot is NoSpaceError (ENOSPC); earlier remaps stay", () =>
      withTarget(make, async ({ target }) => {
        const slots = target.status().spare.totalBlocks;
        for (let b = 0; b < slots; b++) await target.remapBlock(b);
        await assert.rejects(
          target.remapBlock(slots),
          (err: unknown) => err instanceof NoSpaceError && err.code === "ENOSPC",
        );
        const s = target.status();
        assert.deepEqual([s.remappedBlocks, s.spare.freeBlocks], [slots, 0]);
      }));

    it("list pages follow cursors and cover every entry once", () =>
      withTarget(make, async ({ target }) => {
        const remapped = [2, 11, 12, 30, 63];
        for (const b of [...remapped].reverse()) await target.remapBlock(b);
        const { blocks, pages } = listAll(target, 2);
        assert.deepEqual(blocks, remapped);
        assert.equal(pages, 3);
        assert.equal(target.list({ limit: 2 }).total, remapped.length);
        assert.deepEqual(
          target.list({ cursor: 12, limit: 10 }).entries.map((e) => e.block),
          [12, 30, 63],
        );
      }));

    it("fault control: none unless asked for; add, list and clear rules", async () => {
      await withTarget(make, async ({ target }) => assert.equal(target.faults, undefined));
      await withTarget(
        make,
        async ({ target }) => {
          const faults = target.faults;
          assert.ok(faults, "the target has fault control");
          assert.deepEqual(faults.list(), []);
          faults.add({ kind: "dust", blocks: [5, 9] });
          faults.add({ kind: "random", read: 0.5, seed: 3 });
          assert.deepEqual(
            faults.list().map((r) => r.kind),
            ["dust", "random"],
          );
          assert.equal(faults.status().rules, 2);
          faults.clear();
          assert.deepEqual(faults.list(), []);
          assert.equal(faults.status().rules, 0);
        },
        { faults: true },
      );
    });

    it("a read-only target refuses every change with ReadOnlyError (EROFS, 409) and still reports", () =>
      withTarget(make, async (under) => {
        const { target } = under;
        await target.remapBlock(1);
        under.makeReadOnly("test says so");
        const s = target.status();
        assert.equal(s.state, "read-only");
        assert.match(String(s.reason), /test says so/);
        for (const verb of VERBS) {
          await assert.rejects(
            target[verb](2),
            (err: unknown) =>
              err instanceof ReadOnlyError &&
              err.code === "EROFS" &&
              problemFromError(err, "/").problem.status === 409,
            verb,
          );
        }
        assert.deepEqual(
          target.list({ limit: 10 }).entries.map((e) => e.block),
          [1],
        );
      }));
  });
}
