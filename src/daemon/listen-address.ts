// Listen addresses of the daemon's listeners (API and NBD): the NBD module's parser, with the daemon's
// own error class and one extra rule (Unix socket paths must be absolute in configuration).
import {
  formatListenAddress,
  isLoopbackHost,
  parseListenAddress as parseAddress,
  type ListenAddress,
} from "../nbd/listen-address.js";
import { ListenAddressError } from "./errors.js";

export { formatListenAddress, type ListenAddress };

/** Parse "tcp:HOST:PORT" (IPv6 as "tcp:[::1]:PORT"; port 0 picks a free port) or "unix:/absolute/path". */
export function parseListenAddress(text: string): ListenAddress {
  let address: ListenAddress;
  try {
    address = parseAddress(text);
  } catch (err) {
    throw new ListenAddressError(text, (err as Error).message);
  }
  if (address.kind === "unix" && !address.path.startsWith("/")) {
    throw new ListenAddressError(text, `"${text}": unix socket path must be absolute (unix:/run/x.sock)`);
  }
  return address;
}

/** True for addresses only reachable from this machine (loopback hosts and Unix sockets). */
export function isLocalAddress(address: ListenAddress): boolean {
  return address.kind === "unix" || isLoopbackHost(address.host.toLowerCase());
}
