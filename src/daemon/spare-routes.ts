// Control API routes of the spare pool: GET /v1/targets/:name/spares (every spare with its slots),
// POST /v1/targets/:name/spares {"device": SPEC, "force": false} (add a spare while serving), drain,
// DELETE (remove) and POST /v1/targets/:name/mirror/rebuild {"spare": INDEX} (optional target spare).
// Served stacks are registered here by the targets service (registerSpareTarget), with the target's
// logger: add, remove and rebuild are logged here, drains by the spare-pool service.
import type { BlockDevice } from "../block/block-device.js";
import { openDevice } from "../block/open-device.js";
import { assertNoOverlap, resolveRegions } from "../block/overlap.js";
import { addSpareToServed } from "../spares/add-spare-online.js";
import { DrainJob, type DrainProgress } from "../spares/drain.js";
import { removeSpareFromServed } from "../spares/remove-spare.js";
import { MirrorRebuildJob, type MirrorRebuildProgress } from "../spares/mirror-rebuild.js";
import { SpareOperationError } from "../spares/errors.js";
import { BadRequestError, NotFoundError } from "./errors.js";
import { checkQueryNames, readJsonBody } from "./http-request.js";
import type { Route, RouteContext } from "./http-routes.js";
import type { Logger } from "./logger.js";
import type { AssembledTarget } from "./stack.js";
import type { ControlTarget } from "./target.js";

const stacks = new WeakMap<ControlTarget, AssembledTarget>();
/** The logger of each registered target. */
const loggers = new WeakMap<ControlTarget, Logger>();
/** Device specs of the spares added while serving, by target (the stack only knows describe()). */
const addedSpecs = new WeakMap<ControlTarget, string[]>();

/** Drain jobs by target and spare index (the newest one of each spare). */
const drains = new WeakMap<ControlTarget, Map<number, DrainJob>>();

/** The newest mirror rebuild of each target. */
const rebuilds = new WeakMap<ControlTarget, MirrorRebuildJob>();

/** Pool operations of this daemon run by target, "op:result" -> count (add, drain, remove, rebuild; ok, failed). */
const operations = new WeakMap<ControlTarget, Map<string, number>>();

/** Count one pool operation of `control` (metrics: dmremap_spare_operations_total). */
function countOperation(
  control: ControlTarget,
  op: "add" | "drain" | "remove" | "rebuild",
  result: "ok" | "failed",
) {
  const counts = operations.get(control) ?? new Map<string, number>();
  operations.set(control, counts);
  counts.set(`${op}:${result}`, (counts.get(`${op}:${result}`) ?? 0) + 1);
}

/** Pool operations of `control` since the daemon started (for the metrics). */
export function poolOperations(control: ControlTarget): { op: string; result: string; count: number }[] {
  return [...(operations.get(control) ?? new Map<string, number>())].map(([key, count]) => {
    const [op, result] = key.split(":") as [string, string];
    return { op, result, count };
  });
}

/** Progress of the drains of `control`'s spares (for the metrics). */
export function drainProgress(control: ControlTarget): DrainProgress[] {
  return [...(drains.get(control)?.values() ?? [])].map((job) => job.progress());
}

/**
 * Start a drain of spare `index` of `control` (or return the one running or paused); a refused
 * drain (no room) comes back in state "failed".
 */
export function startDrain(control: ControlTarget, stack: AssembledTarget, index: number): DrainJob {
  const jobs = drains.get(control) ?? new Map<number, DrainJob>();
  drains.set(control, jobs);
  const running = jobs.get(index);
  if (running && ["running", "paused"].includes(running.progress().state)) return running;
  const job = new DrainJob(stack.device, index);
  jobs.set(index, job);
  // The job reports its failure in its progress (GET .../drain, metrics, the pool service's log).
  job.start().then(
    () => countOperation(control, "drain", "ok"),
    () => countOperation(control, "drain", "failed"),
  );
  return job;
}

/** Progress of the newest mirror rebuild of `control`, if any (for the metrics). */
export function rebuildProgress(control: ControlTarget): MirrorRebuildProgress | undefined {
  return rebuilds.get(control)?.progress();
}

/** The drain jobs of `control`, by spare index (the newest of each spare). */
export function drainJobs(control: ControlTarget): ReadonlyMap<number, DrainJob> {
  return drains.get(control) ?? new Map();
}

/**
 * Make `stack` reachable from the spare routes of `control`, and resume the drains its metadata
 * records (interrupted by a crash or a restart) that still have blocks to move.
 */
export function registerSpareTarget(control: ControlTarget, stack: AssembledTarget, log?: Logger): void {
  stacks.set(control, stack);
  if (log) loggers.set(control, log);
  if (stack.device.readOnlyCause !== undefined) return;
  for (const index of stack.device.metadataStore.drainingSpares ?? []) {
    if (index >= stack.device.spareUsage().length || stack.device.blocksOnSpare(index).length === 0) continue;
    startDrain(control, stack, index);
  }
}

function stackOf(ctx: RouteContext): { control: ControlTarget; stack: AssembledTarget } {
  const name = ctx.params.name!;
  const control = ctx.targets().find((t) => t.name === name);
  if (!control) throw new NotFoundError(`no target named "${name}"`);
  const stack = stacks.get(control);
  if (!stack) throw new NotFoundError(`target ${name} has no spare pool that can change while served`);
  return { control, stack };
}

/** Every spare of a target: slots (total, used, free) and its metadata copy. */
export function spareRows(stack: AssembledTarget) {
  const copies = stack.device.metadataCopies();
  return stack.device.spareUsage().map((s) => {
    const copy = copies.find((c) => c.spareIndex === s.index);
    return {
      ...s,
      device: copy?.device ?? stack.device.spareDevices[s.index]?.describe() ?? "",
      metadata: copy?.state ?? "unknown",
      /** Recorded as drained or being drained: no new slot on it (until it is removed). */
      draining: (stack.device.metadataStore.drainingSpares ?? []).includes(s.index),
      /** A removed spare kept as a tombstone (its slot numbers stay reserved; no device). */
      ...(stack.device.setIdentity.spares[s.index]?.removed ? { removed: true } : {}),
    };
  });
}

/** Byte regions of every served target (for the overlap check of a new spare). */
async function servedRegions(ctx: RouteContext) {
  const regions = [];
  for (const control of ctx.targets()) {
    const stack = stacks.get(control);
    if (!stack) continue;
    const specs = [
      { role: `main of set "${control.name}"`, spec: stack.main.describe() },
      ...stack.device.spareDevices.map((s, i) => ({
        role: `spare ${i} of set "${control.name}"`,
        spec: s.describe(),
      })),
      ...(addedSpecs.get(control) ?? []).map((spec) => ({ role: `a spare of set "${control.name}"`, spec })),
    ];
    for (const one of specs) {
      // Layered devices describe themselves with their layers; those are not paths to compare.
      regions.push(...(await resolveRegions([one]).catch(() => [])));
    }
  }
  return regions;
}

function spareIndexParam(ctx: RouteContext, stack: AssembledTarget): number {
  const text = ctx.params.index!;
  const count = stack.device.spareUsage().length;
  if (!/^\d+$/.test(text) || Number(text) >= count)
    throw new NotFoundError(`no spare ${text} in target ${ctx.params.name!} (0..${count - 1})`);
  return Number(text);
}

function drainOf(ctx: RouteContext): DrainJob {
  const { control, stack } = stackOf(ctx);
  const job = drains.get(control)?.get(spareIndexParam(ctx, stack));
  if (!job) throw new NotFoundError(`no drain of spare ${ctx.params.index!} in target ${control.name}`);
  return job;
}

/** The spare routes (registered in http-routes.ts). */
export const SPARE_ROUTES: readonly Route[] = [
  {
    method: "GET",
    pattern: "/v1/targets/:name/spares",
    mutating: false,
    handle: async (ctx) => {
      checkQueryNames(ctx.query, []);
      const { stack } = stackOf(ctx);
      return { json: spareRows(stack) };
    },
  },
  {
    method: "POST",
    pattern: "/v1/targets/:name/spares",
    mutating: true,
    handle: async (ctx) => {
      checkQueryNames(ctx.query, []);
      const { control, stack } = stackOf(ctx);
      const body = await readJsonBody(ctx.req);
      const { device: spec, force } = (body ?? {}) as Record<string, unknown>;
      if (typeof spec !== "string" || spec === "" || (force !== undefined && typeof force !== "boolean"))
        throw new BadRequestError('request body must be a JSON object {"device": "SPEC", "force": false}');
      assertNoOverlap([
        ...(await servedRegions(ctx)),
        ...(await resolveRegions([{ role: `new spare of set "${control.name}"`, spec }])),
      ]);
      let device: BlockDevice | undefined = await openDevice(spec, { exclusive: true });
      try {
        const result = await addSpareToServed(stack.device, device, { force: force === true }).catch(
          (err: unknown) => {
            countOperation(control, "add", "failed");
            loggers.get(control)?.warn("spare add refused", { device: spec, error: String(err) });
            throw err;
          },
        );
        countOperation(control, "add", "ok");
        loggers.get(control)?.info("spare added", {
          spare: result.added.index,
          device: spec,
          slots: result.added.slotCount,
          usableAfterMs: Math.round(result.usableAfterMs),
        });
        device = undefined;
        addedSpecs.set(control, [...(addedSpecs.get(control) ?? []), spec]);
        return {
          status: 201,
          json: { added: { ...result.added, device: spec }, usableAfterMs: result.usableAfterMs },
        };
      } finally {
        await device?.close();
      }
    },
  },
  {
    method: "POST",
    pattern: "/v1/targets/:name/spares/:index/drain",
    mutating: true,
    handle: async (ctx) => {
      checkQueryNames(ctx.query, []);
      const { control, stack } = stackOf(ctx);
      const index = spareIndexParam(ctx, stack);
      const running = drains.get(control)?.get(index);
      if (running && ["running", "paused"].includes(running.progress().state))
        return { status: 200, json: running.progress() };
      const started = startDrain(control, stack, index).progress();
      if (started.state === "failed")
        throw new SpareOperationError(control.name, started.error ?? "drain refused");
      return { status: 202, json: started };
    },
  },
  {
    method: "GET",
    pattern: "/v1/targets/:name/spares/:index/drain",
    mutating: false,
    handle: async (ctx) => {
      checkQueryNames(ctx.query, []);
      return { json: drainOf(ctx).progress() };
    },
  },
  {
    method: "POST",
    pattern: "/v1/targets/:name/spares/:index/drain/:action",
    mutating: true,
    handle: async (ctx) => {
      checkQueryNames(ctx.query, []);
      const job = drainOf(ctx);
      if (ctx.params.action === "pause") return { json: job.pause() };
      if (ctx.params.action === "resume") return { json: job.resume() };
      throw new NotFoundError(`no drain action "${ctx.params.action!}" (pause, resume)`);
    },
  },
  {
    method: "POST",
    pattern: "/v1/targets/:name/mirror/rebuild",
    mutating: true,
    handle: async (ctx) => {
      checkQueryNames(ctx.query, []);
      const { control, stack } = stackOf(ctx);
      const body = await readJsonBody(ctx.req);
      const onto = (body ?? {}) as Record<string, unknown>;
      if (
        (body !== undefined && (typeof body !== "object" || body === null || Array.isArray(body))) ||
        Object.keys(onto).some((k) => k !== "spare") ||
        (onto.spare !== undefined && (typeof onto.spare !== "number" || !Number.isSafeInteger(onto.spare)))
      )
        throw new BadRequestError('request body must be empty or a JSON object {"spare": INDEX}');
      const spare = onto.spare as number | undefined;
      if (spare !== undefined && (spare < 0 || spare >= stack.device.spareUsage().length))
        throw new NotFoundError(
          `no spare ${spare} in target ${control.name} (0..${stack.device.spareUsage().length - 1})`,
        );
      const running = rebuilds.get(control);
      if (running?.progress().state === "running") return { status: 200, json: running.progress() };
      const log = loggers.get(control);
      const ontoName =
        spare === undefined ? "" : `spare ${spare} (${spareRows(stack)[spare]?.device ?? "?"})`;
      const job = new MirrorRebuildJob(stack.device, spare === undefined ? {} : { onto: spare, ontoName });
      rebuilds.set(control, job);
      log?.info("mirror rebuild started", { blocks: stack.device.blocksNeedingCopies().length, onto: spare });
      // The job reports its failure in its progress (and here in the log); the request only starts it.
      job.start().then(
        (p) => {
          countOperation(control, "rebuild", "ok");
          log?.info("mirror rebuild done", {
            done: p.done,
            rebuilt: p.rebuilt,
            singleCopy: p.singleCopy,
            unreadable: p.unreadable,
          });
        },
        (err: unknown) => {
          countOperation(control, "rebuild", "failed");
          log?.warn("mirror rebuild failed", { done: job.progress().done, error: String(err) });
        },
      );
      return { status: 202, json: job.progress() };
    },
  },
  {
    method: "GET",
    pattern: "/v1/targets/:name/mirror/rebuild",
    mutating: false,
    handle: async (ctx) => {
      checkQueryNames(ctx.query, []);
      const { control } = stackOf(ctx);
      const job = rebuilds.get(control);
      if (!job) throw new NotFoundError(`no mirror rebuild in target ${control.name}`);
      return { json: job.progress() };
    },
  },
  {
    method: "DELETE",
    pattern: "/v1/targets/:name/spares/:index",
    mutating: true,
    handle: async (ctx) => {
      checkQueryNames(ctx.query, []);
      const { control, stack } = stackOf(ctx);
      const index = spareIndexParam(ctx, stack);
      const removed = await removeSpareFromServed(stack.device, index).catch((err: unknown) => {
        countOperation(control, "remove", "failed");
        loggers.get(control)?.warn("spare remove refused", { spare: index, error: String(err) });
        throw err;
      });
      countOperation(control, "remove", "ok");
      loggers.get(control)?.info("spare removed", { spare: index, device: removed.describe() });
      drains.get(control)?.delete(index);
      return { json: { removed: { index, device: removed.describe() }, spares: spareRows(stack) } };
    },
  },
];
