// Suspect blocks another tool reported (ddrescue `*` / `/` areas, imported by `dmremap import`; the
// formats side keeps them in `<state dir>/<set uuid>.suspects.json`): the scanner reads them first in
// every pass and then drops the blocks it has read from the list.
import type { HealthLogger } from "./health-logger.js";
import type { Job, ScanJobs } from "./scan-jobs.js";

/** Where the imported suspects come from (the daemon binds it to the suspects file). */
export interface ImportedSuspects {
  /** The blocks still to read. */
  read(): Promise<number[]>;
  /** These blocks were read (or found bad): drop them from the list. */
  done(blocks: readonly number[]): Promise<void>;
}

/** Loads imported suspects into the job queue and reports the blocks read back. */
export class ImportedSuspectQueue {
  /** Load at the next turn of the scan loop (a pass started or resumed). */
  due = false;
  private read: number[] = [];

  constructor(
    private readonly source: ImportedSuspects | undefined,
    private readonly jobs: ScanJobs,
    private readonly blockCount: number,
    private readonly log: HealthLogger,
  ) {}

  /** Queue the imported suspects (read before anything else of the pass). */
  async load(pass: number): Promise<void> {
    this.due = false;
    if (!this.source) return;
    try {
      const blocks = (await this.source.read()).filter((b) => b >= 0 && b < this.blockCount);
      if (blocks.length === 0) return;
      this.jobs.queueImported(blocks);
      this.log.info("scan reads imported suspects first", { blocks: blocks.length, pass });
    } catch (err) {
      this.log.error("imported suspects could not be read", { error: String(err) });
    }
  }

  /** An imported run was read: once none is left, the list drops every block read. */
  async done(job: Job): Promise<void> {
    for (let b = job.firstBlock; b < job.firstBlock + job.countBlocks; b++) this.read.push(b);
    const others = [...this.jobs.inflight.values()].some((j) => j.kind === "imported" && j !== job);
    if (this.jobs.importedQueued > 0 || others) return;
    const blocks = this.read.splice(0);
    try {
      await this.source?.done(blocks);
    } catch (err) {
      this.log.error("imported suspects could not be updated", { error: String(err) });
    }
  }
}
