// The forecast's event history: every remap, pending mark, read/write error, scan finding and SMART
// sample with its time, as JSON lines (readable offline with any text tool), bounded in size.
import { appendFile, readFile } from "node:fs/promises";
import { HealthStateFileError } from "./errors.js";
import type { HealthLogger } from "./health-logger.js";
import { writeFileAtomic } from "./scan-state.js";

/** Kinds of recorded events. */
export type HealthEventKind =
  | "remap"
  | "unremap"
  | "pending"
  | "pending-cleared"
  | "read-errors"
  | "write-errors"
  | "scan-finding"
  | "smart"
  | "smart-baseline";

/** One event. `n` counts errors for the *-errors kinds. */
export interface HealthEvent {
  readonly t: number;
  readonly kind: HealthEventKind;
  readonly block?: number;
  readonly n?: number;
  readonly detail?: unknown;
}

/** First line of the file. */
interface Header {
  readonly "dmremap-health-events": 1;
  /** When observation started. */
  readonly since: number;
  /** Events dropped by compaction, by kind. */
  readonly dropped: Partial<Record<HealthEventKind, number>>;
}

/** Bounded, persistent event list. */
export class EventHistory {
  private events: HealthEvent[] = [];
  private header: Header;
  private chain: Promise<void> = Promise.resolve();
  private unwritten = 0;

  constructor(
    readonly path: string,
    private readonly limit: number,
    now: number,
    private readonly log: HealthLogger,
  ) {
    if (!Number.isInteger(limit) || limit < 16)
      throw new RangeError(`event history limit ${limit} is below 16`);
    this.header = { "dmremap-health-events": 1, since: now, dropped: {} };
  }

  /** Read the file (a missing file starts a new history now). */
  async load(): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.path, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT")
        throw new HealthStateFileError(this.path, `cannot read: ${(err as Error).message}`, { cause: err });
      await this.rewrite();
      return;
    }
    const lines = text.split("\n").filter((l) => l.trim() !== "");
    const events: HealthEvent[] = [];
    lines.forEach((line, i) => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        // A line torn by a crash mid-append is the only one that can be partial: skip it.
        if (i === lines.length - 1) return;
        throw new HealthStateFileError(this.path, `line ${i + 1} is not JSON`);
      }
      if (i === 0) {
        if ((parsed as Header)["dmremap-health-events"] !== 1)
          throw new HealthStateFileError(this.path, "is not a dmremap health event history");
        this.header = parsed as Header;
      } else events.push(parsed as HealthEvent);
    });
    this.events = events;
    if (this.events.length > this.limit) await this.compact();
  }

  /** When observation started. */
  get since(): number {
    return this.header.since;
  }

  /** Every event, oldest first. */
  all(): readonly HealthEvent[] {
    return this.events;
  }

  /** Events dropped by compaction, by kind. */
  get dropped(): Partial<Record<HealthEventKind, number>> {
    return this.header.dropped;
  }

  /** Append an event (in memory now, on disk in order). */
  record(event: HealthEvent): void {
    this.events.push(event);
    this.unwritten++;
    this.chain = this.chain.then(() => this.writeOut()).catch((err: unknown) => this.failed(err));
  }

  /** Resolve once every recorded event is on disk. */
  flushed(): Promise<void> {
    return this.chain;
  }

  /** Write what is not on disk yet: appended lines, or the whole file after a compaction. */
  private async writeOut(): Promise<void> {
    if (this.events.length > this.limit) return this.compact();
    if (this.unwritten === 0) return;
    const lines = this.events.slice(-this.unwritten).map((e) => JSON.stringify(e) + "\n");
    this.unwritten = 0;
    await appendFile(this.path, lines.join(""));
  }

  /** Keep the newest half (plus the latest SMART baseline of each device); count what goes. */
  private async compact(): Promise<void> {
    const keep = Math.floor(this.limit / 2);
    const cut = this.events.length - keep;
    if (cut > 0) {
      const dropped = { ...this.header.dropped };
      const baselines = new Map<string, HealthEvent>();
      for (const e of this.events.slice(0, cut)) {
        if (e.kind === "smart-baseline") baselines.set(String((e.detail as { serial?: unknown })?.serial), e);
        else dropped[e.kind] = (dropped[e.kind] ?? 0) + 1;
      }
      this.events = [...baselines.values(), ...this.events.slice(cut)];
      this.header = { ...this.header, dropped };
    }
    this.unwritten = 0;
    await this.rewrite();
  }

  private async rewrite(): Promise<void> {
    const text = [this.header, ...this.events].map((e) => JSON.stringify(e)).join("\n") + "\n";
    await writeFileAtomic(this.path, text);
  }

  private failed(err: unknown): void {
    this.log.error("health event history could not be written", { path: this.path, error: String(err) });
  }
}
