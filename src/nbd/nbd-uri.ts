// NBD URIs in the libnbd forms: nbd://HOST[:PORT]/EXPORT and nbd+unix:///EXPORT?socket=PATH.
import { NbdConfigError } from "./errors.js";
import { DEFAULT_PORT } from "./protocol.js";

/** Where an NBD client connects, and which export it asks for. */
export type NbdTarget =
  | { readonly kind: "tcp"; readonly host: string; readonly port: number; readonly exportName: string }
  | { readonly kind: "unix"; readonly path: string; readonly exportName: string };

/** Parse an NBD URI; the message names the bad part. */
export function parseNbdUri(uri: string): NbdTarget {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new NbdConfigError(
      `"${uri}" is not a URI (expected nbd://HOST[:PORT]/EXPORT or nbd+unix:///EXPORT?socket=PATH)`,
    );
  }
  const exportName = decodeURIComponent(url.pathname.replace(/^\//, ""));
  if (url.protocol === "nbd:") {
    const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
    if (host === "") throw new NbdConfigError(`NBD URI "${uri}" has no host`);
    const port = url.port === "" ? DEFAULT_PORT : Number(url.port);
    return { kind: "tcp", host, port, exportName };
  }
  if (url.protocol === "nbd+unix:") {
    if (url.host !== "")
      throw new NbdConfigError(
        `NBD URI "${uri}": nbd+unix takes no host (use nbd+unix:///EXPORT?socket=PATH)`,
      );
    const path = url.searchParams.get("socket");
    if (!path) throw new NbdConfigError(`NBD URI "${uri}" has no ?socket=PATH`);
    return { kind: "unix", path, exportName };
  }
  throw new NbdConfigError(`NBD URI "${uri}": scheme ${url.protocol} is not supported (nbd: or nbd+unix:)`);
}

/** Format a target back to a URI. */
export function formatNbdUri(target: NbdTarget): string {
  const name = encodeURIComponent(target.exportName).replace(/%2F/g, "/");
  if (target.kind === "unix") return `nbd+unix:///${name}?socket=${target.path}`;
  const host = target.host.includes(":") ? `[${target.host}]` : target.host;
  return `nbd://${host}:${target.port}/${name}`;
}
