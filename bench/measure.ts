// One measured fio run against one server: fio's figures plus the server's CPU time per request
// (counted from the end of the ramp, like fio's statistics) and its RSS at the end of the run.
import { runFio, type FioJobResult, type FioJobSpec } from "./fio-job.js";
import { cpuSeconds, rssBytes, type BenchServer } from "./servers.js";

/** Unmeasured warm-up before each run: a server that sat idle for a while starts slower (JIT, GC). */
export const RAMP_S = 2;

/** What one run measured. */
export type Measured = FioJobResult & { readonly cpuUsPerIo: number; readonly rssBytes: number };

/** Run `spec` on `server` for `runtimeS` seconds after the ramp; fio's JSON goes to `outputPath`. */
export async function measure(
  server: BenchServer,
  spec: FioJobSpec,
  runtimeS: number,
  outputPath: string,
): Promise<{ result: Measured; fio: unknown }> {
  const pid = server.child.pid!;
  let cpu0 = cpuSeconds(pid);
  const timer = setTimeout(() => (cpu0 = cpuSeconds(pid)), RAMP_S * 1000);
  const run = await runFio(server.uri, [spec], runtimeS, outputPath, RAMP_S);
  clearTimeout(timer);
  const cpuS = cpuSeconds(pid) - cpu0;
  const job = run.jobs[0]!;
  return { result: { ...job, cpuUsPerIo: (cpuS * 1e6) / job.ios, rssBytes: rssBytes(pid) }, fio: run.raw };
}

/** "12.3 MiB" */
export function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}
