// NBD URIs in the libnbd forms: nbd://HOST[:PORT]/EXPORT and nbd+unix:///EXPORT?socket=PATH, and
// their TLS forms nbds:// and nbds+unix:// with libnbd's query keys: tls-certificates=DIR (ca-cert.pem,
// client-cert.pem, client-key.pem), tls-psk-file=FILE with USER@ as the PSK identity, tls-verify-peer.
import { NbdConfigError } from "./errors.js";
import { DEFAULT_PORT } from "./protocol.js";

/** TLS settings of an nbds:// target (TLS is then required: no plaintext fallback). */
export interface NbdClientTls {
  /** Directory with ca-cert.pem (and client-cert.pem / client-key.pem for a client certificate). */
  readonly certificatesDir?: string;
  /** psktool-format key file; the identity is `username`. */
  readonly pskFile?: string;
  readonly username?: string;
  /** Verify the server's certificate against ca-cert.pem (default true; host name for TCP only). */
  readonly verifyPeer: boolean;
}

/** Where an NBD client connects, and which export it asks for. */
export type NbdTarget =
  | {
      readonly kind: "tcp";
      readonly host: string;
      readonly port: number;
      readonly exportName: string;
      readonly tls?: NbdClientTls;
    }
  | {
      readonly kind: "unix";
      readonly path: string;
      readonly exportName: string;
      readonly tls?: NbdClientTls;
    };

function tlsOf(uri: string, url: URL, username: string | undefined): NbdClientTls {
  const q = url.searchParams;
  const verify = q.get("tls-verify-peer") ?? "true";
  if (verify !== "true" && verify !== "false") {
    throw new NbdConfigError(`NBD URI "${uri}": tls-verify-peer=${verify} is not true or false`);
  }
  const certificatesDir = q.get("tls-certificates") ?? undefined;
  const pskFile = q.get("tls-psk-file") ?? undefined;
  if (!certificatesDir && !pskFile) {
    throw new NbdConfigError(`NBD URI "${uri}": TLS needs tls-certificates=DIR or tls-psk-file=FILE`);
  }
  if (pskFile && !username) throw new NbdConfigError(`NBD URI "${uri}": tls-psk-file needs a USER@ identity`);
  return {
    verifyPeer: verify === "true",
    ...(certificatesDir ? { certificatesDir } : {}),
    ...(pskFile ? { pskFile } : {}),
    ...(username ? { username } : {}),
  };
}

/** Parse an NBD URI; the message names the bad part. */
export function parseNbdUri(uri: string): NbdTarget {
  let url: URL;
  // USER@ with an empty host (nbds+unix://alice@/disk) is valid for libnbd but not for WHATWG URL.
  const userMatch = /^([a-z+]+:\/\/)([^@/?#]+)@/.exec(uri);
  const user = userMatch ? decodeURIComponent(userMatch[2]!) : undefined;
  try {
    url = new URL(userMatch ? userMatch[1]! + uri.slice(userMatch[0].length) : uri);
  } catch {
    throw new NbdConfigError(
      `"${uri}" is not a URI (expected nbd://HOST[:PORT]/EXPORT or nbd+unix:///EXPORT?socket=PATH)`,
    );
  }
  const exportName = decodeURIComponent(url.pathname.replace(/^\//, ""));
  const secure = url.protocol === "nbds:" || url.protocol === "nbds+unix:";
  const tls = secure ? { tls: tlsOf(uri, url, user) } : {};
  if (url.protocol === "nbd:" || url.protocol === "nbds:") {
    const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
    if (host === "") throw new NbdConfigError(`NBD URI "${uri}" has no host`);
    const port = url.port === "" ? DEFAULT_PORT : Number(url.port);
    return { kind: "tcp", host, port, exportName, ...tls };
  }
  if (url.protocol === "nbd+unix:" || url.protocol === "nbds+unix:") {
    if (url.host !== "")
      throw new NbdConfigError(
        `NBD URI "${uri}": nbd+unix takes no host (use nbd+unix:///EXPORT?socket=PATH)`,
      );
    const path = url.searchParams.get("socket");
    if (!path) throw new NbdConfigError(`NBD URI "${uri}" has no ?socket=PATH`);
    return { kind: "unix", path, exportName, ...tls };
  }
  throw new NbdConfigError(
    `NBD URI "${uri}": scheme ${url.protocol} is not supported (nbd:, nbd+unix:, nbds:, nbds+unix:)`,
  );
}

/** Format a target back to a URI. */
export function formatNbdUri(target: NbdTarget): string {
  const name = encodeURIComponent(target.exportName).replace(/%2F/g, "/");
  const tls = target.tls;
  const s = tls ? "s" : "";
  const user = tls?.username ? `${encodeURIComponent(tls.username)}@` : "";
  const query: string[] = [];
  if (target.kind === "unix") query.push(`socket=${target.path}`);
  if (tls?.certificatesDir) query.push(`tls-certificates=${tls.certificatesDir}`);
  if (tls?.pskFile) query.push(`tls-psk-file=${tls.pskFile}`);
  if (tls && !tls.verifyPeer) query.push("tls-verify-peer=false");
  const q = query.length > 0 ? `?${query.join("&")}` : "";
  if (target.kind === "unix") return `nbd${s}+unix://${user}/${name}${q}`;
  const host = target.host.includes(":") ? `[${target.host}]` : target.host;
  return `nbd${s}://${user}${host}:${target.port}/${name}${q}`;
}
