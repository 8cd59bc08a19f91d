// The spare-pool service of a target: once a second it drains a quarantined spare (write errors)
// that still holds slots, when the policy auto_drain_quarantined says so, and logs every drain's
// start, progress (each 10 %) and end, whoever started it (CLI, HTTP, restart, itself).
import { MissingDevice } from "../block/missing-device.js";
import type { Service, ServiceStatus } from "../core/service.js";
import type { DrainJob } from "../spares/drain.js";
import type { TargetServiceContext, TargetServiceFactory } from "./services.js";
import { drainJobs, startDrain } from "./spare-routes.js";

/** How often the pool is looked at, in milliseconds. */
const TICK_MS = 1000;

interface Seen {
  readonly job: DrainJob;
  state: string;
  tenth: number;
}

/** Auto-drain and drain logging of one target. */
export class SparePoolService implements Service {
  readonly name: string;
  private timer: NodeJS.Timeout | undefined;
  private state: ServiceStatus["state"] = "stopped";
  private readonly seen = new Map<number, Seen>();
  /** Spares drained automatically this session (started once each; a failure is not retried). */
  private readonly autoDrained = new Set<number>();

  constructor(private readonly ctx: TargetServiceContext) {
    this.name = `spare-pool:${ctx.target.name}`;
  }

  async start(): Promise<void> {
    this.state = "running";
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    this.state = "stopped";
  }

  status(): ServiceStatus {
    return { state: this.state, details: { autoDrained: [...this.autoDrained] } };
  }

  /** One look at the pool (the timer calls it; tests call it directly). */
  tick(): void {
    this.autoDrain();
    this.logDrains();
  }

  private autoDrain(): void {
    const { stack, target, logger } = this.ctx;
    const device = stack.device;
    if (device.readOnlyCause !== undefined || !device.remapPolicy.autoDrainQuarantined) return;
    const running = drainJobs(target);
    for (const spare of device.spareUsage()) {
      const i = spare.index;
      if (spare.usedBlocks === 0 || this.autoDrained.has(i) || running.has(i)) continue;
      // Quarantined: a write to it failed this session (a missing spare cannot be read from).
      if (!device.isSpareAvoided(i) || device.spareDevices[i] instanceof MissingDevice) continue;
      this.autoDrained.add(i);
      logger.warn("spare quarantined after write errors: draining it automatically", {
        spare: i,
        blocks: spare.usedBlocks,
      });
      startDrain(target, stack, i);
    }
  }

  private logDrains(): void {
    const { target, logger } = this.ctx;
    for (const [spare, job] of drainJobs(target)) {
      let seen = this.seen.get(spare);
      const p = job.progress();
      if (!seen || seen.job !== job) {
        seen = { job, state: "", tenth: 0 };
        this.seen.set(spare, seen);
        logger.info("spare drain started", { spare, total: p.total });
      }
      const tenth = p.total > 0 ? Math.floor((10 * p.done) / p.total) : 10;
      if (p.state === "running" && tenth > seen.tenth && tenth < 10)
        logger.info("spare drain progress", {
          spare,
          done: p.done,
          total: p.total,
          blocksPerSecond: Math.round(p.rateBlocksPerSecond),
        });
      seen.tenth = Math.max(seen.tenth, tenth);
      if (p.state !== seen.state && (p.state === "done" || p.state === "failed" || p.state === "paused"))
        if (p.state === "failed") logger.warn("spare drain failed", { spare, done: p.done, error: p.error });
        else
          logger.info(`spare drain ${p.state}`, { spare, done: p.done, total: p.total, lost: p.lostBlocks });
      seen.state = p.state;
    }
  }
}

/** Factory of the spare-pool service (every served target with a spare pool). */
export const sparePoolService: TargetServiceFactory = (ctx) => new SparePoolService(ctx);
