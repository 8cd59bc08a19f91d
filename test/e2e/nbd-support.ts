// Helpers for the NBD interop tests: an in-process server on a temp Unix socket, and a runner for
// real client tools that fails with a clear message when a tool is missing (never skips).
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, unlinkSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { MemoryDevice } from "../../src/block/memory-device.js";
import type { NbdExport } from "../../src/nbd/export-info.js";
import { NbdServer, type NbdServerOptions } from "../../src/nbd/server.js";

const execFileAsync = promisify(execFile);

/** Debian package of each client tool, for the "not installed" message. */
const PACKAGES: Record<string, string> = {
  nbdinfo: "libnbd-bin",
  nbdcopy: "libnbd-bin",
  nbdfuse: "libnbd-bin",
  nbdsh: "python3-libnbd",
  "qemu-img": "qemu-utils",
  "qemu-io": "qemu-utils",
  fio: "fio",
  nbdkit: "nbdkit",
  "mkfs.ext4": "e2fsprogs",
  debugfs: "e2fsprogs",
  e2fsck: "e2fsprogs",
  fusermount3: "fuse3",
};

/** PATH with Debian's python first (nbdsh needs python3-libnbd, which a pyenv python lacks). */
export const TOOL_ENV = { ...process.env, PATH: `/usr/bin:/usr/sbin:/sbin:${process.env.PATH ?? ""}` };

/** Run a tool with a timeout; rejects with stdout/stderr in the message on failure. */
export async function run(
  cmd: string,
  args: string[],
  options: { timeoutMs?: number; allowFailure?: boolean } = {},
): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await execFileAsync(cmd, args, {
      timeout: options.timeoutMs ?? 60_000,
      env: TOOL_ENV,
      maxBuffer: 64 << 20,
    });
    return { stdout, stderr, code: 0 };
  } catch (err) {
    const e = err as NodeJS.ErrnoException & {
      stdout?: string;
      stderr?: string;
      code?: unknown;
      killed?: boolean;
    };
    if (e.code === "ENOENT") {
      throw new Error(
        `client tool "${cmd}" is not installed (Debian package ${PACKAGES[cmd] ?? "?"}); the interop tests need it`,
      );
    }
    if (options.allowFailure && typeof e.code === "number")
      return { stdout: e.stdout ?? "", stderr: e.stderr ?? "", code: e.code };
    throw new Error(
      `${cmd} ${args.join(" ")} failed (${e.killed ? "timed out" : `exit ${String(e.code)}`}): ${e.stderr ?? ""}${e.stdout ?? ""}`,
      {
        cause: err,
      },
    );
  }
}

/** Start a long-running tool; the caller stops it with stop(). */
export function start(
  cmd: string,
  args: string[],
): { child: ChildProcess; stop(): Promise<void>; exited: Promise<number | null> } {
  const child = spawn(cmd, args, { env: TOOL_ENV, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once("error", (err: NodeJS.ErrnoException) =>
      reject(
        err.code === "ENOENT"
          ? new Error(`client tool "${cmd}" is not installed (Debian package ${PACKAGES[cmd] ?? "?"})`)
          : err,
      ),
    );
    child.once("exit", (code) => resolve(code));
  });
  return {
    child,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited.catch(() => null);
      void stderr;
    },
  };
}

/** A server on a temp Unix socket serving memory devices. */
export interface E2eServer {
  readonly dir: string;
  readonly path: string;
  readonly uri: string;
  readonly device: MemoryDevice;
  readonly server: NbdServer;
  stop(): Promise<void>;
}

/** Serve a 64 MiB (by default) memory device as export "disk" (and as the default export). */
export async function startE2eServer(
  options: {
    sizeBytes?: number;
    extraExports?: NbdExport[];
    minimumBlockSize?: number;
  } & Partial<NbdServerOptions> = {},
): Promise<E2eServer> {
  const dir = mkdtempSync(join(tmpdir(), "nbd-e2e-"));
  const path = join(dir, "nbd.sock");
  const device = new MemoryDevice({ sizeBytes: options.sizeBytes ?? 64 << 20 });
  const exports: NbdExport[] = [
    {
      name: "disk",
      device,
      description: "dmremap test disk",
      preferredBlockSize: 4096,
      minimumBlockSize: options.minimumBlockSize ?? 512,
    },
    ...(options.extraExports ?? []),
  ];
  const server = new NbdServer({ listen: [{ kind: "unix", path }], ...options, exports });
  await server.start();
  return {
    dir,
    path,
    uri: `nbd+unix:///disk?socket=${path}`,
    device,
    server,
    async stop() {
      await server.stop();
      await device.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Deterministic pseudo-random bytes (xorshift), for images that compress badly. */
export function pseudoRandom(lengthBytes: number, seed: number): Buffer {
  const buf = Buffer.alloc(lengthBytes);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < lengthBytes; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    buf.writeUInt32LE(x >>> 0, i);
  }
  return buf;
}

/** Resolve once something accepts connections on `path` (nbdkit started in the foreground). */
export async function waitForSocket(path: string, exited: Promise<number | null>): Promise<void> {
  let gone = false;
  void exited.then(
    () => (gone = true),
    () => (gone = true),
  );
  for (let attempt = 0; attempt < 500; attempt++) {
    if (gone) throw new Error("nbdkit exited before listening");
    const ok = await new Promise<boolean>((resolve) => {
      const s = createConnection(path);
      s.once("connect", () => {
        s.destroy();
        resolve(true);
      });
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`nothing listens on ${path}`);
}

/** Start `nbdkit -f -U sock ARGS` (removing a stale socket first). */
export function startNbdkit(sock: string, args: string[]) {
  if (existsSync(sock)) unlinkSync(sock);
  return start("nbdkit", ["-f", "-U", sock, ...args]);
}
