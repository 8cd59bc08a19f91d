// A small client of the daemon's control API for the online CLI (TCP or Unix socket, JSON).
import { request } from "node:http";
import { parseListenAddress, formatListenAddress, type ListenAddress } from "../daemon/listen-address.js";
import { ApiProblemError, DaemonUnreachableError } from "./errors.js";

export { ApiProblemError, DaemonUnreachableError } from "./errors.js";

/** Client of one daemon. */
export class ApiClient {
  private readonly address: ListenAddress;
  constructor(
    address: string,
    private readonly token?: string,
  ) {
    this.address = parseListenAddress(address);
  }

  get addressText(): string {
    return formatListenAddress(this.address);
  }

  /** Send a request; resolves with the parsed JSON body or throws a typed error. */
  call<T>(method: "GET" | "POST" | "DELETE", path: string, body?: unknown): Promise<T> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const where =
      this.address.kind === "unix"
        ? { socketPath: this.address.path }
        : { host: this.address.host, port: this.address.port };
    return new Promise<T>((resolve, reject) => {
      const req = request(
        {
          ...where,
          method,
          path,
          timeout: 10_000,
          headers: {
            accept: "application/json",
            ...(payload
              ? { "content-type": "application/json", "content-length": Buffer.byteLength(payload) }
              : {}),
            ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            let parsed: unknown;
            try {
              parsed = text ? JSON.parse(text) : undefined;
            } catch {
              parsed = { detail: text };
            }
            if ((res.statusCode ?? 500) >= 400)
              reject(new ApiProblemError(res.statusCode ?? 500, parsed as object));
            else resolve(parsed as T);
          });
        },
      );
      req.on("timeout", () => req.destroy(new Error("timed out after 10 s")));
      req.on("error", (err) => reject(new DaemonUnreachableError(this.addressText, err)));
      req.end(payload);
    });
  }
}
