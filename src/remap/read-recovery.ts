// What happens after a read of main failed: per-block retries within the request's time budget,
// proactive migration of blocks that recovered, and pending marks for blocks that never did.
import { MediumError, NoSpaceError, ReadOnlyError } from "../block/errors.js";
import { FencedRangeError } from "./errors.js";
import { migrateBlock, readRemapped, salvageLocked } from "./block-ops.js";
import { backoffDelayMs } from "./remap-clock.js";
import type { RemapCore } from "./remap-core.js";

/** Deadline (core.clock ms) for the read retries of a request starting now. */
export function readDeadline(core: RemapCore): number {
  return core.clock.now() + core.policy.readRetryBudgetMs;
}

/**
 * Wait before retry number `retry` (1-based) of a request with `deadline`; false when the budget is
 * spent and at least `minRetries` retries were made (time to give up).
 */
export async function backoffBeforeRetry(
  core: RemapCore,
  retry: number,
  deadline: number,
  minRetries: number,
): Promise<boolean> {
  const remaining = deadline - core.clock.now();
  if (remaining <= 0) return retry <= minRetries;
  const delay = backoffDelayMs(core.clock, core.policy.retryFirstDelayMs, retry, remaining);
  if (delay > 0) await core.clock.sleep(delay);
  return true;
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
  const startedMs = core.clock.now();
  let failures = priorFailures;
  let retries = 0;
  for (;;) {
    if (failures > 0) {
      if (!(await backoffBeforeRetry(core, retries + 1, deadline, core.policy.readRetries))) break;
      retries++;
      core.count("retries.read");
    }
    // The block may have moved to a spare meanwhile (a fenced write, a migration): read it there.
    if (core.table.has(block)) break;
    const id = core.guard.register(block, block);
    let fenced = false;
    try {
      await core.main.read(offsetBytes, sub);
    } catch (err) {
      if (err instanceof FencedRangeError) fenced = true;
      else if (!(err instanceof MediumError)) throw err;
      else {
        core.count("errors.read");
        failures++;
        continue;
      }
    } finally {
      core.guard.release(id);
    }
    if (fenced) {
      // Not the medium's fault: wait (unregistered) until the block moved or main finished the write.
      await core.main.unfenced(offsetBytes, sub.length);
      continue;
    }
    if (failures > 0) considerMigration(core, block, startedMs, failures, retries);
    return true;
  }
  // Out of budget: fail this request; a block whose own retries had less than half the budget
  // (an earlier block of the request used it up, or the budget is 0) had no fair chance and is not marked.
  const budget = core.policy.readRetryBudgetMs;
  const moved = core.table.has(block);
  if (!moved && (budget === 0 || core.clock.now() - startedMs < budget / 2)) return false;
  return core.guard.withLock(block, async () => {
    const slot = core.table.get(block);
    if (slot >= 0) {
      await readRemapped(core, block, slot, withinBytes, sub, deadline);
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

/**
 * A read of `block` failed `failures` times and then succeeded: remember it, and migrate the block
 * only when the policy says the error is real (it keeps failing, or it needed many retries).
 */
function considerMigration(
  core: RemapCore,
  block: number,
  startedMs: number,
  failures: number,
  retries: number,
): void {
  const policy = core.policy;
  const history = core.errorHistory.record(block, startedMs, failures, policy.migrateWindowMs);
  core.errorHistory.noteRetries(block, retries);
  if (!policy.migrateOnRecoveredRead) return;
  const occasions = history.occasions.length;
  let detail: string | undefined;
  if (occasions >= policy.migrateAfterFailedReads) {
    detail = `reads failed on ${occasions} occasions within ${policy.migrateWindowMs} ms`;
  } else if (retries > policy.migrateAfterRetries) {
    detail = `a read needed ${retries} retries`;
  }
  if (detail === undefined) {
    core.count("recovered.kept");
    return;
  }
  const why = detail;
  core.runBackground("migrate", () => migrateBlock(core, block, "read-error", why));
}

/**
 * A read of pending `block`: try main once more under the block's lock; when the data reads back,
 * the pending mark is cleared (durably) and `sub` is filled. False when the block is still unreadable.
 */
export function readPendingBack(
  core: RemapCore,
  block: number,
  withinBytes: number,
  sub: Uint8Array,
): Promise<boolean> {
  return core.guard.withLock(block, async () => {
    const slot = core.table.get(block);
    if (slot >= 0) {
      await readRemapped(core, block, slot, withinBytes, sub, readDeadline(core));
      return true;
    }
    if (!core.pending.has(block)) {
      await core.main.read(block * core.blockSize + withinBytes, sub);
      return true;
    }
    if (!core.readBackPending.has(block)) return false;
    const full = new Uint8Array(core.blockBytes(block));
    try {
      await core.main.read(block * core.blockSize, full);
    } catch (err) {
      if (!(err instanceof MediumError)) throw err;
      core.count("errors.read");
      return false;
    }
    sub.set(full.subarray(withinBytes, withinBytes + sub.length));
    // The data is right either way; if the mark cannot be cleared now, a later read tries again.
    if (core.readOnlyReason !== undefined) return true;
    try {
      await core.commit([{ type: "clear-pending", block }], () => {
        core.pending.delete(block);
        core.readBackPending.delete(block);
        core.count("pending.cleared");
      });
    } catch {
      return true;
    }
    core.emit("onPendingCleared", { block, reason: "read-back" });
    return true;
  });
}
