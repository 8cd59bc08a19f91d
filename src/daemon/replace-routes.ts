// Control API of main replacement: POST /v1/targets/:name/replace-main {"device", "force", "dryRun",
// "mapfile", "chunkBytes"} starts (or plans) a replacement, GET .../replace-main shows its progress, POST
// .../replace-main/pause|resume hold and release it. Served stacks are registered by the targets
// service (registerReplaceTarget), which also re-arms and resumes a replacement found in the state
// directory after a crash, and opens the new main when a crash came after the switch (openServedStack).
import type { BlockDevice } from "../block/block-device.js";
import { identityMismatch, identityText, probeDeviceIdentity } from "../block/device-identity.js";
import { DeviceClosedError, SignatureFoundError, SpecError } from "../block/errors.js";
import { openDevice } from "../block/open-device.js";
import { assertNoOverlap, resolveRegions, type Region } from "../block/overlap.js";
import { probeSignatures } from "../block/signature-probe.js";
import { stateDir } from "../formats/suspects.js";
import { MainIdentityMismatchError, MetadataClosedError } from "../metadata/errors.js";
import { scanSuperblocks } from "../metadata/scan-copy.js";
import { SpareStore } from "../metadata/spare-store.js";
import { SpareOperationError } from "../spares/errors.js";
import { planReplace } from "../spares/replace-plan.js";
import {
  MAX_CHUNK_BYTES,
  ReplaceMainJob,
  type ReplaceCheckpoint,
  type ReplaceProgress,
} from "../spares/replace-main.js";
import { BadRequestError, NotFoundError } from "./errors.js";
import { checkQueryNames, readJsonBody } from "./http-request.js";
import type { Route, RouteContext } from "./http-routes.js";
import type { Logger } from "./logger.js";
import { writeReplaceMapfile } from "./replace-mapfile.js";
import {
  readReplaceRecord,
  removeReplaceRecord,
  replaceRecordPath,
  writeReplaceRecord,
  type ReplaceRecord,
} from "./replace-record.js";
import {
  openStack,
  readSetIdentity,
  type AssembledTarget,
  type StackOptions,
  type TargetDefinition,
} from "./stack.js";
import type { ControlTarget } from "./target.js";

/** A replacement of one target's main, running or finished. */
interface Replacement {
  readonly job: ReplaceMainJob;
  readonly newSpec: string;
  readonly oldSpec: string;
  readonly mapfile?: string;
}

const stacks = new WeakMap<ControlTarget, { stack: AssembledTarget; log?: Logger }>();
const replacements = new WeakMap<ControlTarget, Replacement>();

/** Progress of `control`'s replacement, if one ran in this process (for the metrics). */
export function replaceProgress(control: ControlTarget): ReplaceProgress | undefined {
  return replacements.get(control)?.job.progress();
}

/**
 * openStack for the daemon: when the configured main is refused because a replacement already
 * switched the set to its new main (a crash after the switch, config not updated yet), open the
 * new main named in the replace record instead and say so through `warn`.
 */
export async function openServedStack(
  def: TargetDefinition,
  options: StackOptions & { mode: "serve" | "create" },
  warn: (message: string) => void,
): Promise<AssembledTarget> {
  try {
    return await openStack(def, options);
  } catch (err) {
    if (!(err instanceof MainIdentityMismatchError) || options.mode !== "serve") throw err;
    const identity = await readSetIdentity(def.spares);
    const record = await readReplaceRecord(replaceRecordPath(stateDir(), identity.uuid));
    // "switching": the crash may have come after the commit of the switch (the mismatch says it did).
    if (!record || !["switching", "unremapping"].includes(record.checkpoint.phase)) throw err;
    warn(
      `set "${identity.name}" was switched to its new main ${record.newSpec} by replace-main; ` +
        `serving from it (update main = "${record.newSpec}" in the config)` +
        (def.faults ? "; the fault rules configured for the old main are not applied to it" : ""),
    );
    // The configured fault layer stood over the old main (a replacement without a crash leaves it
    // there): the new main is served bare, exactly as it was the moment the switch was committed.
    const { faults: _oldMainFaults, ...onNewMain } = def;
    return openStack({ ...onNewMain, main: record.newSpec }, options);
  }
}

/** Make `stack` reachable from the replace routes; re-arm and resume a replacement left by a crash. */
export async function registerReplaceTarget(
  control: ControlTarget,
  stack: AssembledTarget,
  log?: Logger,
): Promise<void> {
  stacks.set(control, { stack, ...(log ? { log } : {}) });
  const tee = stack.replaceTee;
  if (!tee) return;
  const path = replaceRecordPath(stateDir(), stack.device.setIdentity.uuid);
  let record = await readReplaceRecord(path);
  if (!record) return;
  const found = stack.mainIdentity;
  const onNewMain = found !== undefined && identityMismatch(record.newIdentity, found) === undefined;
  if (record.checkpoint.phase === "unremapping" && !onNewMain) {
    // Only the new main may finish the moves back from the spares.
    log?.warn("replace record names a new main that is not the one served; ignored", { path });
    return;
  }
  if (onNewMain) {
    // A crash after the switch's commit: what is left is moving the remapped blocks back.
    record = { ...record, checkpoint: { ...record.checkpoint, phase: "unremapping" } };
  } else {
    let device: BlockDevice | undefined = await openDevice(record.newSpec, { exclusive: true });
    try {
      const found = await probeDeviceIdentity(record.newSpec, device.sizeBytes);
      const why = identityMismatch(record.newIdentity, found);
      if (why)
        throw new SpecError(
          record.newSpec,
          `replace-main cannot resume: ${record.newSpec} is not the device it copied to (${why})`,
        );
      await tee.arm(device, stack.device.blockSize);
      device = undefined;
    } finally {
      await device?.close();
    }
  }
  log?.warn("resuming the replacement of the main after a restart", {
    device: record.newSpec,
    phase: record.checkpoint.phase,
    cursorBlock: record.checkpoint.cursorBlock,
  });
  run(control, stack, record, log);
}

/** Start the job of `record` (its checkpoint is where it resumes). */
function run(
  control: ControlTarget,
  stack: AssembledTarget,
  record: ReplaceRecord,
  log?: Logger,
): Replacement {
  const store = stack.opened.store;
  if (!(store instanceof SpareStore))
    throw new SpareOperationError(control.name, "this target cannot record a new main identity");
  const path = replaceRecordPath(stateDir(), record.setUuid);
  const jobRef: { job?: ReplaceMainJob } = {};
  const writeMap = async () => {
    if (record.mapfile && jobRef.job)
      await writeReplaceMapfile(record.mapfile, jobRef.job.mapState(), stack, record);
  };
  const job = new ReplaceMainJob(stack.device, stack.replaceTee!, {
    resumeFrom: record.checkpoint,
    ...(record.chunkBytes ? { chunkBytes: record.chunkBytes } : {}),
    // At least 64 saves over the device (a small main resumes near where it stopped too).
    saveEveryBytes: Math.min(256 << 20, Math.max(4 << 20, Math.ceil(stack.device.sizeBytes / 64))),
    commitSwitch: async () => {
      await store.commitMainIdentity(record.newIdentity);
      log?.info("switched the set to its new main", { device: record.newSpec, was: record.oldSpec });
    },
    save: async (checkpoint: ReplaceCheckpoint) => {
      await writeReplaceRecord(path, { ...record, checkpoint });
      await writeMap();
    },
  });
  jobRef.job = job;
  const replacement: Replacement = {
    job,
    newSpec: record.newSpec,
    oldSpec: record.oldSpec,
    ...(record.mapfile ? { mapfile: record.mapfile } : {}),
  };
  replacements.set(control, replacement);
  job.start().then(
    async (done) => {
      await writeMap();
      await removeReplaceRecord(path);
      log?.info("replacement of the main done", {
        device: record.newSpec,
        copiedBytes: done.copiedBytes,
        unremapped: done.unremapped,
        unreadableBlocks: done.unreadableBlocks.join(",") || "none",
      });
    },
    async (err: unknown) => {
      if (
        err instanceof DeviceClosedError ||
        err instanceof MetadataClosedError ||
        stack.device.status().closed
      ) {
        // The daemon is stopping: the record stays, the next start re-arms and resumes the copy.
        log?.warn("replacement of the main interrupted by the shutdown; it resumes at the next start", {
          device: record.newSpec,
        });
        return;
      }
      // A failed copy leaves the old main serving: stop mirroring, release the new device.
      const tee = stack.replaceTee!;
      if (tee.replacement) await (await tee.disarm())?.close();
      await removeReplaceRecord(path).catch(() => undefined);
      log?.error("replacement of the main failed; the old main keeps serving", { error: String(err) });
    },
  );
  return replacement;
}

function stackOf(ctx: RouteContext): { control: ControlTarget; stack: AssembledTarget; log?: Logger } {
  const name = ctx.params.name!;
  const control = ctx.targets().find((t) => t.name === name);
  if (!control) throw new NotFoundError(`no target named "${name}"`);
  const entry = stacks.get(control);
  if (!entry?.stack.replaceTee)
    throw new NotFoundError(`target ${name} cannot replace its main while served`);
  return { control, ...entry };
}

/** Byte regions of every served target plus the main being replaced and its replacement. */
async function servedRegions(ctx: RouteContext): Promise<Region[]> {
  const regions: Region[] = [];
  for (const control of ctx.targets()) {
    const entry = stacks.get(control);
    if (!entry) continue;
    const specs = [
      { role: `main of set "${control.name}"`, spec: entry.stack.main.describe() },
      ...entry.stack.device.spareDevices.map((s, i) => ({
        role: `spare ${i} of set "${control.name}"`,
        spec: s.describe(),
      })),
    ];
    const running = replacements.get(control);
    if (running && ["running", "paused"].includes(running.job.progress().state))
      specs.push({ role: `new main of set "${control.name}"`, spec: running.newSpec });
    // Layered devices describe themselves with their layers; those are not paths to compare.
    for (const one of specs) regions.push(...(await resolveRegions([one]).catch(() => [])));
  }
  return regions;
}

/** The body of POST .../replace-main. */
interface StartBody {
  readonly device: string;
  readonly force: boolean;
  readonly dryRun: boolean;
  readonly mapfile?: string;
  readonly chunkBytes?: number;
}

function startBody(body: unknown): StartBody {
  const { device, force, dryRun, mapfile, chunkBytes } = (body ?? {}) as Record<string, unknown>;
  const flag = (v: unknown) => v === undefined || typeof v === "boolean";
  if (
    typeof device !== "string" ||
    device === "" ||
    !flag(force) ||
    !flag(dryRun) ||
    !(mapfile === undefined || (typeof mapfile === "string" && mapfile !== "")) ||
    !(chunkBytes === undefined || Number.isSafeInteger(chunkBytes))
  )
    throw new BadRequestError(
      'request body must be a JSON object {"device": "SPEC", "force": false, "dryRun": false, "mapfile": "PATH", "chunkBytes": 4194304}',
    );
  return {
    device,
    force: force === true,
    dryRun: dryRun === true,
    ...(mapfile ? { mapfile: mapfile as string } : {}),
    ...(chunkBytes !== undefined ? { chunkBytes: chunkBytes as number } : {}),
  };
}

function view(r: Replacement) {
  return {
    device: r.newSpec,
    previous: r.oldSpec,
    ...(r.mapfile ? { mapfile: r.mapfile } : {}),
    ...r.job.progress(),
  };
}

/** The replace-main routes (registered in http-routes.ts). */
export const REPLACE_ROUTES: readonly Route[] = [
  {
    method: "POST",
    pattern: "/v1/targets/:name/replace-main",
    mutating: true,
    handle: async (ctx) => {
      checkQueryNames(ctx.query, []);
      const { control, stack, log } = stackOf(ctx);
      const body = startBody(await readJsonBody(ctx.req));
      const bs = stack.device.blockSize;
      if (
        body.chunkBytes !== undefined &&
        (body.chunkBytes < bs || body.chunkBytes % bs !== 0 || body.chunkBytes > MAX_CHUNK_BYTES)
      )
        throw new BadRequestError(
          `chunkBytes ${body.chunkBytes} is not a multiple of the block size ${bs} up to ${MAX_CHUNK_BYTES}`,
        );
      const running = replacements.get(control);
      if (running && ["running", "paused"].includes(running.job.progress().state)) {
        if (running.newSpec === body.device) return { status: 200, json: view(running) };
        throw new SpareOperationError(
          control.name,
          `target ${control.name} is already replacing its main by ${running.newSpec}`,
        );
      }
      if (stack.device.readOnlyCause)
        throw new SpareOperationError(
          control.name,
          `target ${control.name} is read-only: ${stack.device.readOnlyCause}`,
        );
      assertNoOverlap([
        ...(await servedRegions(ctx)),
        ...(await resolveRegions([{ role: `new main of set "${control.name}"`, spec: body.device }])),
      ]);
      let device: BlockDevice | undefined = await openDevice(
        body.device,
        body.dryRun ? { readOnly: true } : { exclusive: true },
      );
      try {
        if (device.sizeBytes < stack.device.sizeBytes)
          throw new SpecError(
            body.device,
            `new main ${body.device} has ${device.sizeBytes} bytes, fewer than the ${stack.device.sizeBytes} of the set's main`,
          );
        const found = await probeSignatures(device);
        const member = await scanSuperblocks(device).catch(() => undefined);
        const set = member?.copies.find((c) => c.ok);
        if (set?.ok) found.push(`dmremap metadata of set "${set.sb.identity.name}"`);
        if (found.length > 0 && !body.force && !body.dryRun)
          throw new SignatureFoundError(
            body.device,
            found.join(", "),
            `new main "${body.device}" contains a ${found.join(" and a ")}; copying the main onto it would destroy it (use --force to overwrite)`,
          );
        const plan = planReplace(stack.device, device.sizeBytes);
        if (body.dryRun)
          return {
            json: {
              dryRun: true,
              device: body.device,
              previous: stack.main.describe(),
              signatures: found,
              ...plan,
            },
          };
        const newIdentity = await probeDeviceIdentity(body.device, device.sizeBytes);
        const record: ReplaceRecord = {
          format: "dmremap-replace",
          version: 1,
          setUuid: stack.device.setIdentity.uuid,
          target: control.name,
          newSpec: body.device,
          newIdentity,
          oldSpec: stack.main.describe(),
          ...(body.mapfile ? { mapfile: body.mapfile } : {}),
          ...(body.chunkBytes ? { chunkBytes: body.chunkBytes } : {}),
          checkpoint: { phase: "copying", cursorBlock: 0, retryBlocks: [], skippedPending: [] },
        };
        // The record exists before the first mirrored write: a restart re-arms the same device.
        await writeReplaceRecord(replaceRecordPath(stateDir(), record.setUuid), record);
        await stack.replaceTee!.arm(device, stack.device.blockSize);
        device = undefined;
        log?.info("replacing the main", {
          device: body.device,
          identity: identityText(newIdentity),
          ...plan,
        });
        return { status: 202, json: view(run(control, stack, record, log)) };
      } finally {
        await device?.close();
      }
    },
  },
  {
    method: "GET",
    pattern: "/v1/targets/:name/replace-main",
    mutating: false,
    handle: async (ctx) => {
      checkQueryNames(ctx.query, []);
      const { control } = stackOf(ctx);
      const r = replacements.get(control);
      if (!r) throw new NotFoundError(`no replacement of the main of target ${control.name}`);
      return { json: view(r) };
    },
  },
  {
    method: "POST",
    pattern: "/v1/targets/:name/replace-main/:action",
    mutating: true,
    handle: async (ctx) => {
      checkQueryNames(ctx.query, []);
      const { control } = stackOf(ctx);
      const r = replacements.get(control);
      if (!r) throw new NotFoundError(`no replacement of the main of target ${control.name}`);
      if (ctx.params.action === "pause") r.job.pause();
      else if (ctx.params.action === "resume") r.job.resume();
      else throw new NotFoundError(`no replace-main action "${ctx.params.action!}" (pause, resume)`);
      return { json: view(r) };
    },
  },
];
