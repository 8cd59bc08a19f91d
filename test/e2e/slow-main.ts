// A remote main for the deadline tests: nbdkit's sh plugin over a backing file whose writes take
// `slowWriteMs` while a trigger file exists (a weak block the drive retries), whose next N reads
// fail with EIO on demand (an outage), and which leaves markers (slow write started / landed) so
// tests wait on events instead of sleeping.
import { chmod, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { sparseFile, startNbdkit, type HelperProcess } from "./tools.js";

/** A running slow-capable main. */
export interface SlowMain {
  /** The first nbdkit. */
  readonly kit: HelperProcess;
  /** nbd+unix URI of the export. */
  readonly uri: string;
  /** The next `count` reads fail with EIO (an outage that outlasts back-to-back retries). */
  failReads(count: number): Promise<void>;
  /** Make every following write slow (until fast()). */
  slow(): Promise<void>;
  /** Make following writes fast again (slow writes already running keep running). */
  fast(): Promise<void>;
  /** File created when a slow write has landed on the backing file. */
  readonly landedMarker: string;
  /** File created when a slow write has started (nbdkit is busy with it). */
  readonly startedMarker: string;
  /** The running nbdkit (replaced by restart()). */
  current(): HelperProcess;
  /** Start a new nbdkit on the same socket and backing file (after the old one exited). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** Start nbdkit's sh plugin over a new sparse file of `sizeBytes` in `dir`. */
export async function startSlowMain(dir: string, sizeBytes: number, slowWriteMs: number): Promise<SlowMain> {
  const disk = await sparseFile(join(dir, "main-backing.img"), sizeBytes);
  const trigger = join(dir, "slow-writes");
  const landedMarker = join(dir, "slow-write-landed");
  const startedMarker = join(dir, "slow-write-started");
  const outage = join(dir, "failing-reads");
  const script = join(dir, "slow-main.sh");
  const seconds = (slowWriteMs / 1000).toFixed(3);
  await writeFile(
    script,
    `#!/bin/bash
# nbdkit sh plugin: a file-backed disk whose writes are slow while ${trigger} exists.
case "$1" in
  thread_model) echo parallel ;;
  get_size) stat -c %s '${disk}' ;;
  can_write|can_flush) exit 0 ;;
  flush) sync '${disk}' ;;
  pread)
    if [ -s '${outage}' ]; then
      n=$(cat '${outage}')
      if [ "$n" -gt 0 ]; then echo $((n - 1)) > '${outage}'; echo "EIO outage" >&2; exit 1; fi
    fi
    dd if='${disk}' skip="$4" count="$3" iflag=skip_bytes,count_bytes status=none ;;
  pwrite)
    if [ -e '${trigger}' ]; then slow=1; touch '${startedMarker}'; sleep ${seconds}; fi
    dd of='${disk}' seek="$4" oflag=seek_bytes conv=notrunc status=none || exit 1
    if [ -n "$slow" ]; then touch '${landedMarker}'; fi ;;
  *) exit 2 ;;
esac
`,
  );
  await chmod(script, 0o755);
  const socket = join(dir, "slow-main.sock");
  let kit = await startNbdkit(socket, ["sh", script]);
  return {
    kit,
    uri: `nbd+unix:///?socket=${socket}`,
    landedMarker,
    startedMarker,
    current: () => kit,
    async restart() {
      await rm(socket, { force: true });
      kit = await startNbdkit(socket, ["sh", script]);
    },
    failReads: (count) => writeFile(outage, `${count}\n`),
    slow: () => writeFile(trigger, ""),
    fast: () => rm(trigger, { force: true }),
    async stop() {
      await kit.stop("SIGTERM");
    },
  };
}
