// What an import changes: the blocks to mark pending and the suspects to add, computed against the
// current state so that importing the same file twice changes nothing the second time.
import { blocksTouched, type ByteRange, type RemapState } from "./remap-state.js";

/** Areas of main an input file reports, in bytes of main. */
export interface ImportFindings {
  readonly bad: readonly ByteRange[];
  readonly suspect: readonly ByteRange[];
  /** Bytes the file reported outside main (ignored). */
  readonly outsideBytes: number;
}

/** The changes an import makes (and a dry run prints). */
export interface ImportPlan {
  /** Blocks to mark pending (bad, neither pending nor remapped yet). */
  readonly markPending: number[];
  /** Bad blocks already pending. */
  readonly alreadyPending: number[];
  /** Bad blocks already remapped: their data is safe on a spare, nothing to do. */
  readonly alreadyRemapped: number[];
  /** Blocks to add to the suspects (suspect, not bad, not remapped, not yet suspect). */
  readonly addSuspects: number[];
  readonly alreadySuspect: number[];
  readonly outsideBytes: number;
}

/** Compute the plan of importing `findings` into `state`. */
export function planImport(state: RemapState, findings: ImportFindings): ImportPlan {
  const remapped = new Set(state.remapped.map((r) => r.block));
  const pending = new Set(state.pending);
  const suspects = new Set(state.suspects);
  const plan: ImportPlan = {
    markPending: [],
    alreadyPending: [],
    alreadyRemapped: [],
    addSuspects: [],
    alreadySuspect: [],
    outsideBytes: findings.outsideBytes,
  };
  const bad = blocksTouched(findings.bad, state.blockSize);
  const badSet = new Set(bad);
  for (const b of bad) {
    if (remapped.has(b)) plan.alreadyRemapped.push(b);
    else if (pending.has(b)) plan.alreadyPending.push(b);
    else plan.markPending.push(b);
  }
  for (const b of blocksTouched(findings.suspect, state.blockSize)) {
    if (badSet.has(b) || remapped.has(b) || pending.has(b)) continue;
    if (suspects.has(b)) plan.alreadySuspect.push(b);
    else plan.addSuspects.push(b);
  }
  return plan;
}

/** True when the plan changes nothing. */
export function planIsEmpty(plan: ImportPlan): boolean {
  return plan.markPending.length === 0 && plan.addSuspects.length === 0;
}

/** Human lines of a plan (the dry run prints them; the real run prints them with "done"). */
export function describePlan(plan: ImportPlan, dryRun: boolean): string[] {
  const verb = dryRun ? "would mark" : "marked";
  const lines = [
    `${verb} pending: ${plan.markPending.length} block(s)${listing(plan.markPending)}`,
    `${dryRun ? "would add" : "added"} suspects: ${plan.addSuspects.length} block(s)${listing(plan.addSuspects)}`,
    `unchanged: ${plan.alreadyPending.length} already pending, ${plan.alreadyRemapped.length} already remapped, ${plan.alreadySuspect.length} already suspect`,
  ];
  if (plan.outsideBytes > 0) lines.push(`ignored: ${plan.outsideBytes} bytes reported outside main`);
  return lines;
}

function listing(blocks: readonly number[]): string {
  if (blocks.length === 0) return "";
  const shown = blocks.slice(0, 20).join(" ");
  return `: ${shown}${blocks.length > 20 ? ` ... (+${blocks.length - 20})` : ""}`;
}

/** Blocks marked so far, and the first failure (if any) after which no new block was started. */
export interface MarkResult {
  readonly done: number[];
  readonly failed?: { readonly block: number; readonly error: unknown };
}

/**
 * Run `mark` over `blocks`, `concurrency` at a time: concurrent marks share the metadata store's
 * group commit (one flush for many records) instead of one flush per block.
 */
export async function markAll(
  blocks: readonly number[],
  mark: (block: number) => Promise<unknown>,
  concurrency = 32,
): Promise<MarkResult> {
  const done: number[] = [];
  let failed: MarkResult["failed"];
  let next = 0;
  const worker = async () => {
    while (failed === undefined && next < blocks.length) {
      const block = blocks[next++]!;
      try {
        await mark(block);
        done.push(block);
      } catch (error) {
        failed ??= { block, error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, blocks.length) }, worker));
  done.sort((a, b) => a - b);
  return failed ? { done, failed } : { done };
}
