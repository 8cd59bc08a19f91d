// Parsing of listen addresses shared by the API and NBD listeners: "tcp:HOST:PORT" or "unix:PATH".

import { isIP } from "node:net";
import { ListenAddressError } from "./errors.js";

/** A parsed listen address. */
export type ListenAddress =
  | { readonly kind: "tcp"; readonly host: string; readonly port: number }
  | { readonly kind: "unix"; readonly path: string };

/** Parse "tcp:HOST:PORT" (IPv6 as "tcp:[::1]:PORT"; port 0 picks a free port) or "unix:/absolute/path". */
export function parseListenAddress(text: string): ListenAddress {
  if (text.startsWith("unix:")) {
    const path = text.slice(5);
    if (!path.startsWith("/")) {
      throw new ListenAddressError(text, `"${text}": unix socket path must be absolute (unix:/run/x.sock)`);
    }
    return { kind: "unix", path };
  }
  if (text.startsWith("tcp:")) {
    const match = /^tcp:(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
    const host = match?.[1] ?? match?.[2];
    const port = Number(match?.[3]);
    if (!match || host === undefined || port > 65535) {
      throw new ListenAddressError(
        text,
        `"${text}" is not a TCP address (expected tcp:HOST:PORT, port 0..65535)`,
      );
    }
    if (match[1] !== undefined && isIP(host) !== 6) {
      throw new ListenAddressError(text, `"${text}": "${host}" is not an IPv6 address`);
    }
    return { kind: "tcp", host, port };
  }
  throw new ListenAddressError(
    text,
    `"${text}" is not a listen address (expected tcp:HOST:PORT or unix:PATH)`,
  );
}

/** True for addresses only reachable from this machine (loopback hosts and Unix sockets). */
export function isLocalAddress(address: ListenAddress): boolean {
  if (address.kind === "unix") return true;
  const host = address.host.toLowerCase();
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Format an address back to its text form. */
export function formatListenAddress(address: ListenAddress): string {
  if (address.kind === "unix") return `unix:${address.path}`;
  return `tcp:${address.host.includes(":") ? `[${address.host}]` : address.host}:${address.port}`;
}
