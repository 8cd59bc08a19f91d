// Control API routes of the formats: online import of bad / suspect areas (POST .../import, with a dry
// run) and the suspects list (GET .../suspects). Input is validated here; the plan comes from formats/.
import { describePlan, markAll, planImport, type ImportPlan } from "../formats/import-plan.js";
import type { ByteRange, RemapState } from "../formats/remap-state.js";
import { addSuspects, readSuspects, stateDir, suspectsPath } from "../formats/suspects.js";
import { BadRequestError, BatchFailedError, NotFoundError } from "./errors.js";
import { checkQueryNames, readJsonBody } from "./http-request.js";
import type { Route, RouteContext } from "./http-routes.js";
import type { ControlTarget } from "./target.js";

/** Most byte ranges one import request may carry. */
export const MAX_IMPORT_RANGES = 100_000;

function findTarget(ctx: RouteContext): ControlTarget {
  const name = ctx.params.name!;
  const target = ctx.targets().find((t) => t.name === name);
  if (!target) throw new NotFoundError(`no target named "${name}"`);
  return target;
}

function suspectsFileOf(target: ControlTarget): string {
  return suspectsPath(stateDir(), target.status().uuid);
}

/** The live state of a target, as the formats see it. */
async function liveState(target: ControlTarget): Promise<RemapState> {
  const status = target.status();
  const remapped: RemapState["remapped"][number][] = [];
  let cursor: number | undefined;
  do {
    const page = target.list({ ...(cursor !== undefined ? { cursor } : {}), limit: 100_000 });
    for (const e of page.entries)
      remapped.push({ block: e.block, spare: e.spare, spareOffsetBytes: 0, lostSectors: e.lostSectors });
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return {
    blockSize: status.blockSize,
    sizeBytes: status.sizeBytes,
    remapped,
    pending: [...target.pendingBlocks()],
    suspects: await readSuspects(suspectsFileOf(target)),
  };
}

function parseRanges(body: Record<string, unknown>, key: string, sizeBytes: number): ByteRange[] {
  const value = body[key] ?? [];
  if (!Array.isArray(value))
    throw new BadRequestError(`"${key}" must be an array of {"startBytes", "lengthBytes"}`);
  if (value.length > MAX_IMPORT_RANGES)
    throw new BadRequestError(
      `"${key}" has ${value.length} ranges, at most ${MAX_IMPORT_RANGES} per request`,
    );
  return value.map((r: unknown, i) => {
    const { startBytes, lengthBytes } = (r ?? {}) as Record<string, unknown>;
    const ok = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
    if (!ok(startBytes) || !ok(lengthBytes) || startBytes + lengthBytes > sizeBytes) {
      throw new BadRequestError(
        `"${key}"[${i}] ${JSON.stringify(r)} is not a byte range inside the device (0..${sizeBytes})`,
      );
    }
    return { startBytes, lengthBytes };
  });
}

/** Apply a plan to a live target: mark the blocks pending (group-committed), then record the suspects. */
async function applyPlan(target: ControlTarget, plan: ImportPlan): Promise<void> {
  const marked = await markAll(plan.markPending, (block) => target.markPending(block));
  if (marked.failed)
    throw new BatchFailedError("import", marked.failed.block, marked.done, marked.failed.error);
  const status = target.status();
  await addSuspects(suspectsFileOf(target), status.uuid, status.blockSize, plan.addSuspects);
}

/** Routes of the formats (appended to the API's route table). */
export const FORMATS_ROUTES: readonly Route[] = [
  {
    method: "GET",
    pattern: "/v1/targets/:name/suspects",
    mutating: false,
    handle: async (ctx) => {
      const target = findTarget(ctx);
      checkQueryNames(ctx.query, []);
      return { json: { blocks: await readSuspects(suspectsFileOf(target)) } };
    },
  },
  {
    method: "POST",
    pattern: "/v1/targets/:name/import",
    mutating: true,
    handle: async (ctx) => {
      const target = findTarget(ctx);
      checkQueryNames(ctx.query, []);
      const body = await readJsonBody(ctx.req);
      if (typeof body !== "object" || body === null || Array.isArray(body)) {
        throw new BadRequestError(
          'request body must be a JSON object {"bad": [...], "suspect": [...], "dryRun": false}',
        );
      }
      const fields = body as Record<string, unknown>;
      const { sizeBytes } = target.status();
      const bad = parseRanges(fields, "bad", sizeBytes);
      const suspect = parseRanges(fields, "suspect", sizeBytes);
      const outsideBytes = Number.isSafeInteger(fields.outsideBytes) ? (fields.outsideBytes as number) : 0;
      const dryRun = fields.dryRun === true;
      const plan = planImport(await liveState(target), { bad, suspect, outsideBytes });
      if (!dryRun) await applyPlan(target, plan);
      return { json: { dryRun, plan, summary: describePlan(plan, dryRun) } };
    },
  },
];
