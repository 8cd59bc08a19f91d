// Shared setup of the datapath tests: one target over a given main and one new sparse spare, served
// by the daemon on Unix sockets in the test's directory, with optional [nbd] and [target.policy] keys.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { nbdUnixUri, sparseFile } from "./tools.js";

/** What the datapath config names. */
export interface DatapathTarget {
  spare: string;
  apiSocket: string;
  socket: string;
  config: string;
  /** API address (`unix:` + apiSocket). */
  base: string;
  /** NBD URI of the target's export. */
  uri: string;
}

export interface DatapathOptions {
  /** Target (and export) name. */
  name: string;
  /** The target's main device (a path, a URI or a fault spec). */
  main: string;
  /** Size of the spare file spare.img. */
  spareBytes: number;
  /** Extra [nbd] keys, written as `key = "value"`. */
  nbd?: Record<string, string>;
  /** [target.policy] keys, written as `key = "value"`; no section when absent. */
  policy?: Record<string, string>;
}

function keys(values: Record<string, string>): string {
  return Object.entries(values)
    .map(([key, value]) => `${key} = "${value}"\n`)
    .join("");
}

/** Create spare.img in `dir` and write dmremap.toml there for one target (the daemon is not started). */
export async function datapathTarget(dir: string, options: DatapathOptions): Promise<DatapathTarget> {
  const spare = await sparseFile(join(dir, "spare.img"), options.spareBytes);
  const apiSocket = join(dir, "api.sock");
  const socket = join(dir, "nbd.sock");
  const config = join(dir, "dmremap.toml");
  const policy = options.policy === undefined ? "" : `[target.policy]\n${keys(options.policy)}`;
  await writeFile(
    config,
    `[api]
listen = "unix:${apiSocket}"
[nbd]
listen = ["unix:${socket}"]
${keys(options.nbd ?? {})}[[target]]
name = "${options.name}"
main = "${options.main}"
spares = ["${spare}"]
create = true
${policy}`,
  );
  return {
    spare,
    apiSocket,
    socket,
    config,
    base: `unix:${apiSocket}`,
    uri: nbdUnixUri(socket, options.name),
  };
}
