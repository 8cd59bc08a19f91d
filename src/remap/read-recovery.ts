// What happens after a read of main failed: per-block retries within the request's time budget,
// proactive migration of blocks that recovered, and pending marks for blocks that never did.
import { performance } from "node:perf_hooks";
import { MediumError, NoSpaceError, ReadOnlyError } from "../block/errors.js";
import { migrateBlock, readRemapped, salvageLocked } from "./block-ops.js";
import type { RemapCore } from "./remap-core.js";

/** Deadline (performance.now() ms) for the read retries of a request starting now. */
export function readDeadline(core: RemapCore): number {
  return performance.now() + core.policy.readRetryBudgetMs;
}

/**
 * Re-read main bytes [offsetBytes, +target.length) block by block after the run failed; fills what
 * it can and throws MediumError if any block stayed unreadable. `priorFailures` is 1 when the failed
 * attempt was exactly one block.
 */
export async function readAfterMainError(
  core: RemapCore,
  offsetBytes: number,
  target: Uint8Array,
  deadline: number,
  priorFailures: number,
): Promise<void> {
  const bs = core.blockSize;
  const end = offsetBytes + target.length;
  let failed: MediumError | undefined;
  for (let pos = offsetBytes; pos < end;) {
    const block = Math.floor(pos / bs);
    const blockEnd = Math.min(end, (block + 1) * bs);
    const sub = target.subarray(pos - offsetBytes, blockEnd - offsetBytes);
    if (!(await readBlockRecovering(core, block, pos - block * bs, sub, deadline, priorFailures))) {
      failed ??= new MediumError(
        core.name,
        "read",
        pos,
        blockEnd - pos,
        `${core.name}: block ${block} could not be read from main`,
      );
    }
    pos = blockEnd;
  }
  if (failed) throw failed;
}

/** Retry one block's requested bytes; true when `sub` (bytes at `withinBytes` of the block) was filled. */
async function readBlockRecovering(
  core: RemapCore,
  block: number,
  withinBytes: number,
  sub: Uint8Array,
  deadline: number,
  priorFailures: number,
): Promise<boolean> {
  const offsetBytes = block * core.blockSize + withinBytes;
  let failures = priorFailures;
  const attempts = 1 + core.policy.readRetries - Math.min(priorFailures, 1);
  let outOfTime = false;
  for (let a = 0; a < attempts; a++) {
    if (a > 0 || failures > 0) {
      if (performance.now() > deadline) {
        outOfTime = true;
        break;
      }
      core.count("retries.read");
    }
    const id = core.guard.register(block, block);
    try {
      await core.main.read(offsetBytes, sub);
    } catch (err) {
      if (!(err instanceof MediumError)) throw err;
      core.count("errors.read");
      failures++;
      continue;
    } finally {
      core.guard.release(id);
    }
    const { migrateOnRecoveredRead, migrateAfterFailedReads } = core.policy;
    if (failures > 0 && migrateOnRecoveredRead && failures >= migrateAfterFailedReads) {
      core.runBackground("migrate", () => migrateBlock(core, block, "read-error"));
    }
    return true;
  }
  // Out of budget: fail this request, but a block that had no fair chance is not marked.
  if (outOfTime) return false;
  return core.guard.withLock(block, async () => {
    const slot = core.table.get(block);
    if (slot >= 0) {
      await readRemapped(core, block, slot, withinBytes, sub);
      return true;
    }
    if (core.pending.has(block)) return false;
    // Writes to the block are drained now: one last attempt before declaring its data lost.
    try {
      await core.main.read(offsetBytes, sub);
      return true;
    } catch (err) {
      if (!(err instanceof MediumError)) throw err;
      core.count("errors.read");
    }
    try {
      await salvageLocked(core, block);
    } catch (err) {
      // The loss could not be recorded (no room, read-only, metadata failure): the read still fails
      // with EIO and the next one tries again.
      if (!(err instanceof NoSpaceError || err instanceof ReadOnlyError || err instanceof MediumError))
        throw err;
    }
    return false;
  });
}
