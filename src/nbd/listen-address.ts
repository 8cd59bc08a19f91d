// Listen addresses of the NBD server: `unix:PATH` (the default) or `tcp:HOST:PORT`.
import { isIP } from "node:net";
import { NbdConfigError } from "./errors.js";

/** Where the server listens. */
export type ListenAddress =
  | { readonly kind: "unix"; readonly path: string }
  | { readonly kind: "tcp"; readonly host: string; readonly port: number };

/** Parse `unix:PATH`, `tcp:HOST:PORT` (IPv6 in brackets: `tcp:[::1]:10809`) or `tcp:PORT` (loopback). */
export function parseListenAddress(text: string): ListenAddress {
  const value = text.trim();
  if (value.startsWith("unix:")) {
    const path = value.slice(5);
    if (path === "") throw new NbdConfigError(`listen address "${text}" has an empty socket path`);
    if (path.includes("\0")) throw new NbdConfigError(`listen address "${text}" contains a NUL byte`);
    return { kind: "unix", path };
  }
  if (value.startsWith("tcp:")) {
    const rest = value.slice(4);
    // A bare port binds to loopback: exposing the export takes an explicit host.
    if (/^\d+$/.test(rest)) return parseListenAddress(`tcp:127.0.0.1:${rest}`);
    const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d+)$/.exec(rest);
    if (!match) throw new NbdConfigError(`listen address "${text}" is not tcp:HOST:PORT`);
    const host = match[1] ?? match[2]!;
    if (match[1] !== undefined && isIP(host) !== 6) {
      throw new NbdConfigError(`listen address "${text}": "${host}" is not an IPv6 address`);
    }
    const port = Number(match[3]);
    if (!Number.isInteger(port) || port > 65535) {
      throw new NbdConfigError(`listen address "${text}": port ${match[3]} is not in 0..65535`);
    }
    return { kind: "tcp", host, port };
  }
  throw new NbdConfigError(`listen address "${text}" must start with "unix:" or "tcp:"`);
}

/** Format a listen address back to its text form. */
export function formatListenAddress(address: ListenAddress): string {
  if (address.kind === "unix") return `unix:${address.path}`;
  return isIP(address.host) === 6
    ? `tcp:[${address.host}]:${address.port}`
    : `tcp:${address.host}:${address.port}`;
}

/** True for loopback hosts (127.0.0.0/8, ::1, localhost). */
export function isLoopbackHost(host: string): boolean {
  return (
    host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host) || host === "::ffff:127.0.0.1"
  );
}
