// Shared pieces of the mirrored-set tests: a set "mir" created with `--mirror 2` over a dust main whose
// bad blocks take every write elsewhere (so each is remapped, two copies), three 2 MiB spare images
// (s0 and s1 in the set, s2 standing by), `serve` over any of them, and the blocks written and
// compared through NBD with seeded content.
import assert from "node:assert/strict";
import { join } from "node:path";
import { runCli, startProgram, type RunningProgram } from "./harness.js";
import { api, nbdsh, nbdUnixUri, sparseFile } from "./tools.js";

export const BS = 4096;

/** Files and addresses of a mirrored test set, and its block contents. */
export interface MirroredSet {
  readonly mainSpec: string;
  readonly s0: string;
  readonly s1: string;
  readonly s2: string;
  readonly apiSocket: string;
  readonly uri: string;
  /** `--api` of the online commands. */
  readonly online: readonly string[];
  /** Output of the `create` that made the set (it succeeded). */
  readonly createdStdout: string;
  /** `dmremap serve` of the set over these spares. */
  serve(spares: readonly string[]): Promise<RunningProgram>;
  /** The target's status from the API. */
  status<T>(): Promise<T>;
  /** Write every bad block through NBD (each gets remapped) and flush. */
  writeBlocks(): Promise<void>;
  /** Every bad block reads back exact through NBD (asserted); returns how many were compared. */
  compareBlocks(): Promise<number>;
}

/**
 * Create the set in `dir`: main 16 MiB with `bad` failing writes, spares s0 and s1, mirror 2. `content`
 * is the Python expression of block `b`'s bytes. `beforeCreate` runs with the main spec and s0 first.
 */
export async function mirroredSet(
  dir: string,
  bad: readonly number[],
  content: string,
  beforeCreate?: (mainSpec: string, s0: string) => Promise<void>,
): Promise<MirroredSet> {
  const main = await sparseFile(join(dir, "main.img"), 16 << 20);
  const [s0, s1, s2] = (await Promise.all(
    ["s0", "s1", "s2"].map((n) => sparseFile(join(dir, `${n}.img`), 2 << 20)),
  )) as [string, string, string];
  const mainSpec = `dust:block=${bad[0]}-${bad[bad.length - 1]},block-size=${BS}:${main}`;
  await beforeCreate?.(mainSpec, s0);
  const created = await runCli([
    "create",
    "--main",
    mainSpec,
    "--spare",
    s0,
    "--spare",
    s1,
    "--name",
    "mir",
    "--mirror",
    "2",
  ]);
  assert.equal(created.code, 0, created.stderr);
  const apiSocket = `unix:${join(dir, "api.sock")}`;
  const socket = join(dir, "nbd.sock");
  const uri = nbdUnixUri(socket, "mir");
  const list = JSON.stringify(bad);
  return {
    mainSpec,
    s0,
    s1,
    s2,
    apiSocket,
    uri,
    online: ["--api", apiSocket],
    createdStdout: created.stdout,
    serve: (spares) =>
      startProgram([
        "serve",
        ...spares.flatMap((s) => ["--spare", s]),
        "--listen",
        `unix:${socket}`,
        "--api",
        apiSocket,
      ]),
    status: async <T>() => (await api(apiSocket, "GET", "/v1/targets/mir")).json as T,
    async writeBlocks() {
      const r = await nbdsh(
        uri,
        `for b in ${list}:\n    h.pwrite(${content}, b * ${BS})\nh.flush()\nprint("written")`,
      );
      assert.equal(r.code, 0, r.stderr);
    },
    async compareBlocks() {
      const r = await nbdsh(
        uri,
        `bad = [b for b in ${list} if h.pread(${BS}, b * ${BS}) != ${content}]\nprint(${bad.length} if not bad else "mismatch %r" % bad)`,
      );
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), String(bad.length), "every remapped block reads back exact");
      return bad.length;
    },
  };
}
