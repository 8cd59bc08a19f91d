// One writer per set: a lock file per set UUID (pid inside) held by whoever opens the set read-write,
// so a second daemon or an offline `dmremap remap` cannot write behind a running daemon's back.
import { mkdirSync } from "node:fs";
import { open, readFile, unlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DaemonError, LockError } from "./errors.js";

/** The set is open read-write in another live process. */
export class SetBusyError extends DaemonError {
  constructor(
    readonly setName: string,
    readonly pid: number,
    readonly holder: string,
  ) {
    super(
      "EBUSY",
      `set "${setName}" is in use by process ${pid} (${holder}); stop it first or use the daemon's API`,
    );
  }
}

/** A held lock; release() is idempotent. */
export interface SetLock {
  readonly path: string;
  release(): Promise<void>;
}

/**
 * Folder of lock files: $DMREMAP_LOCK_DIR, else /run/dmremap/locks (inside the systemd unit's
 * RuntimeDirectory, so the daemon and the CLI see the same files), else a per-user folder in tmpdir.
 */
export function lockDir(): string {
  const candidates = [
    process.env.DMREMAP_LOCK_DIR,
    "/run/dmremap/locks",
    join(tmpdir(), `dmremap-locks-${process.getuid?.() ?? 0}`),
  ];
  for (const dir of candidates) {
    if (!dir) continue;
    try {
      mkdirSync(dir, { recursive: true, mode: 0o755 });
      return dir;
    } catch {
      // Not writable here: try the next place.
    }
  }
  throw new LockError(
    candidates.filter(Boolean).join(", "),
    "no writable folder for lock files (set DMREMAP_LOCK_DIR)",
  );
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Take the lock of set `uuid`, reclaiming it from a process that no longer exists. */
export async function lockSet(uuid: string, setName: string): Promise<SetLock> {
  const path = join(lockDir(), `${uuid}.lock`);
  const me = JSON.stringify({ pid: process.pid, holder: process.argv.slice(1).join(" ").slice(0, 200) });
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const handle = await open(path, "wx", 0o644);
      await handle.writeFile(me);
      await handle.close();
      let released = false;
      return {
        path,
        async release() {
          if (released) return;
          released = true;
          await unlink(path).catch(() => undefined);
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    let owner: { pid?: number; holder?: string } = {};
    try {
      owner = JSON.parse(await readFile(path, "utf8")) as typeof owner;
    } catch {
      // Unreadable or half-written: treat as stale below unless it names a live process.
    }
    if (typeof owner.pid === "number" && owner.pid !== process.pid && alive(owner.pid)) {
      throw new SetBusyError(setName, owner.pid, owner.holder ?? "unknown");
    }
    if (owner.pid === process.pid) throw new SetBusyError(setName, owner.pid, "this process");
    await unlink(path).catch(() => undefined);
  }
  throw new LockError(path, `could not take the lock ${path}`);
}
