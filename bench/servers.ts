// Starts the NBD servers under test as child processes: nbdkit's file plugin and `dmremap serve`,
// each on a Unix socket, and stops them by their pid.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { access, rm } from "node:fs/promises";
import { fileURLToPath } from "node:url";

/** A running server and the NBD URI of its export. */
export interface BenchServer {
  readonly label: string;
  readonly uri: string;
  readonly child: ChildProcess;
  /** Control API socket (dmremap only). */
  readonly apiSocket?: string;
  stop(): Promise<void>;
}

/** Path of the built CLI entry point. */
export const CLI = fileURLToPath(new URL("../src/cli/main.js", import.meta.url));

async function waitForSocket(path: string, child: ChildProcess, what: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode} before listening`);
    try {
      await access(path);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`${what} did not create ${path} within 15 s`);
}

function stopper(child: ChildProcess): () => Promise<void> {
  return () =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const t = setTimeout(() => child.kill("SIGKILL"), 10_000);
      child.once("exit", () => {
        clearTimeout(t);
        resolve();
      });
      child.kill("SIGTERM");
    });
}

/** nbdkit's file plugin on `file`, listening on `socket`. */
export async function startNbdkit(file: string, socket: string, threads?: number): Promise<BenchServer> {
  await rm(socket, { force: true });
  const args = ["-U", socket, "-f", "--exit-with-parent"];
  if (threads) args.push("--threads", String(threads));
  args.push("file", file);
  const child = spawn("nbdkit", args, { stdio: ["ignore", "ignore", "inherit"] });
  await waitForSocket(socket, child, "nbdkit");
  return { label: "nbdkit", uri: `nbd+unix:///?socket=${socket}`, child, stop: stopper(child) };
}

/** Options of one `dmremap serve` process. */
export interface DmremapServeOptions {
  readonly label: string;
  readonly main: string;
  readonly spare: string;
  readonly socket: string;
  readonly apiSocket: string;
  /** Extra node flags, e.g. --cpu-prof. */
  readonly nodeFlags?: readonly string[];
  /** CLI entry point to run (default: this build's); e.g. an older build for before/after runs. */
  readonly cli?: string;
  /** Extra environment variables of the server process. */
  readonly env?: Readonly<Record<string, string>>;
}

/** `dmremap serve` on one set; resolves once it logged "ready". */
export function startDmremap(o: DmremapServeOptions): Promise<BenchServer> {
  const args = ["--spare", o.spare, "--main", o.main, "--listen", `unix:${o.socket}`];
  args.push("--api", `unix:${o.apiSocket}`, "--name", "bench", "--log-level", "info");
  return spawnDmremap(o, args, `nbd+unix:///bench?socket=${o.socket}`);
}

/** `dmremap serve --config FILE`; `uri` names the export the benchmark uses. */
export function startDmremapConfig(
  o: Pick<DmremapServeOptions, "label" | "apiSocket" | "nodeFlags" | "env">,
  configPath: string,
  uri: string,
): Promise<BenchServer> {
  return spawnDmremap(o, ["--config", configPath], uri);
}

async function spawnDmremap(
  o: Pick<DmremapServeOptions, "label" | "apiSocket" | "nodeFlags" | "cli" | "env">,
  serveArgs: readonly string[],
  uri: string,
): Promise<BenchServer> {
  const args = [...(o.nodeFlags ?? []), o.cli ?? CLI, "serve", ...serveArgs];
  const child = spawn(process.execPath, args, {
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, ...o.env },
  });
  let log = "";
  await new Promise<void>((resolve, reject) => {
    child.stderr!.on("data", (d: Buffer) => {
      log += d.toString();
      if (log.includes('"msg":"ready"')) resolve();
    });
    child.once("exit", (code) => reject(new Error(`dmremap serve exited ${code}: ${log.trim()}`)));
    setTimeout(() => reject(new Error(`dmremap serve not ready after 60 s: ${log.trim()}`)), 60_000).unref();
  });
  child.stderr!.resume();
  return {
    label: o.label,
    uri,
    child,
    apiSocket: o.apiSocket,
    stop: stopper(child),
  };
}

/** Resident set size of process `pid` in bytes (VmRSS of /proc/PID/status). */
export function rssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) * 1024 : NaN;
}

/** CPU time (user + system, all threads) used so far by process `pid`, in seconds. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // Fields 14 and 15 of proc(5) (utime, stime), counted from after the command name.
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

const CLOCK_TICKS = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout?.trim()) || 100;
