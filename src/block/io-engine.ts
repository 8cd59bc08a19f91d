// Which thread does a FileDevice's buffered positional I/O, and the process-wide I/O worker threads.
// Chosen per device at open: FileDeviceOptions.ioEngine, else DMREMAP_IO_ENGINE, else "auto".
import { SpecError } from "./errors.js";
import { IoWorker } from "./io-worker.js";

/**
 * "worker": I/O worker threads from shared memory (io-worker.ts) for requests up to a slot (128 KiB);
 * "loop": synchronous on the event loop for tmpfs / ramfs files, libuv's threadpool otherwise;
 * "auto": the default, today "loop" everywhere: the worker hand-off measured slower than both the
 * synchronous tmpfs copy and the threadpool (docs/PERFORMANCE.md, "Issue 16, round 3").
 */
export type IoEngine = "worker" | "loop" | "auto";

export const IO_ENGINES: readonly IoEngine[] = ["worker", "loop", "auto"];

/** The engine named by DMREMAP_IO_ENGINE ("auto" when unset). */
export function ioEngineFromEnv(env: NodeJS.ProcessEnv = process.env): IoEngine {
  const value = env["DMREMAP_IO_ENGINE"];
  if (value === undefined || value === "") return "auto";
  if ((IO_ENGINES as readonly string[]).includes(value)) return value as IoEngine;
  throw new SpecError(
    "DMREMAP_IO_ENGINE",
    `DMREMAP_IO_ENGINE="${value}" is not one of ${IO_ENGINES.join(", ")}`,
  );
}

/** Number of I/O worker threads from DMREMAP_IO_WORKERS (1 when unset). */
export function ioWorkerCountFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const value = env["DMREMAP_IO_WORKERS"];
  if (value === undefined || value === "") return 1;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 64) {
    throw new SpecError(
      "DMREMAP_IO_WORKERS",
      `DMREMAP_IO_WORKERS="${value}" is not a whole number from 1 to 64`,
    );
  }
  return n;
}

/** A tuning knob from the environment (benchmarks only; not documented for operators). */
function numberFromEnv(name: string, fallback: number): number {
  const value = process.env[name];
  if (value === undefined || value === "") return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 1_000_000) {
    throw new SpecError(name, `${name}="${value}" is not a whole number from 0 to 1000000`);
  }
  return n;
}

const workers: IoWorker[] = [];
let nextWorker = 0;

/**
 * The worker thread for a newly opened device: started on first use, shared by devices round robin
 * (each device keeps one worker, so its requests run in order), never stopped (unreferenced while
 * idle, so it does not keep the process alive).
 */
export function ioWorkerFor(device: string): IoWorker {
  const count = ioWorkerCountFromEnv();
  const index = nextWorker++ % count;
  try {
    return (workers[index] ??= new IoWorker({
      spinUs: numberFromEnv("DMREMAP_IO_SPIN_US", 0),
      pollTurns: numberFromEnv("DMREMAP_IO_POLL_TURNS", 0),
    }));
  } catch (err) {
    throw new SpecError(device, `${device}: cannot start an I/O worker thread`, { cause: err });
  }
}
