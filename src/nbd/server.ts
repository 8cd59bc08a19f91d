// The NBD server service: listens on Unix / TCP addresses and serves named exports (fixed newstyle).
// start()/stop() follow the service convention; stop() answers in-flight requests before closing.
import { createServer, createConnection, type Server, type Socket } from "node:net";
import { lstat, unlink } from "node:fs/promises";
import { NbdConnection, type ConnectionLimits } from "./connection.js";
import { NbdConfigError } from "./errors.js";
import type { NbdExport } from "./export-info.js";
import type { HandshakeContext } from "./handshake.js";
import { formatListenAddress, isLoopbackHost, type ListenAddress } from "./listen-address.js";
import { silentLogger, type NbdLogger } from "./logger.js";
import { MAX_PAYLOAD_BYTES, MIN_BLOCK_BYTES } from "./protocol.js";
import { adoptWithReceiveBuffer } from "./receive-buffer.js";
import { buildTls, type NbdTlsOptions } from "./tls.js";

/** Options of an NBD server; the first export (or the one named "") is the default export. */
export interface NbdServerOptions {
  readonly exports: readonly NbdExport[];
  readonly listen: readonly ListenAddress[];
  readonly tls?: NbdTlsOptions;
  readonly logger?: NbdLogger;
  /** A request the device has not answered within this time is answered EIO (default 25 s). */
  readonly requestDeadlineMs?: number;
  /** Requests in flight per connection before the server stops reading (default 64). */
  readonly maxInFlight?: number;
  /** Payload bytes in flight per connection before the server stops reading (default 128 MiB). */
  readonly maxInFlightBytes?: number;
  /** Time allowed for the handshake (default 30 s). */
  readonly handshakeTimeoutMs?: number;
  /** Allow plaintext TCP on non-loopback addresses. */
  readonly allowInsecure?: boolean;
}

/** Live state of the server. */
export interface NbdServerStatus {
  readonly listening: readonly string[];
  readonly connections: number;
  readonly totalConnections: number;
}

/** An NBD server over a set of exports. */
export class NbdServer {
  private readonly exports: readonly NbdExport[];
  private readonly limits: ConnectionLimits;
  private readonly logger: NbdLogger;
  private readonly ctx: HandshakeContext;
  private readonly servers: { address: ListenAddress; server: Server }[] = [];
  private readonly connections = new Set<NbdConnection>();
  private nextId = 1;
  private started = false;

  constructor(private readonly options: NbdServerOptions) {
    this.exports = validateExports(options.exports);
    if (options.listen.length === 0)
      throw new NbdConfigError("the NBD server needs at least one listen address");
    for (const address of options.listen) {
      if (address.kind === "tcp" && !isLoopbackHost(address.host) && !options.tls && !options.allowInsecure) {
        throw new NbdConfigError(
          `listen address ${formatListenAddress(address)} is not loopback: configure TLS or set allowInsecure`,
        );
      }
    }
    this.limits = {
      maxInFlight: positiveInt("maxInFlight", options.maxInFlight ?? 64),
      maxInFlightBytes: positiveInt("maxInFlightBytes", options.maxInFlightBytes ?? 128 * 1024 * 1024),
      requestDeadlineMs: positiveInt("requestDeadlineMs", options.requestDeadlineMs ?? 25_000),
      handshakeTimeoutMs: positiveInt("handshakeTimeoutMs", options.handshakeTimeoutMs ?? 30_000),
    };
    this.logger = options.logger ?? silentLogger;
    const tls = options.tls ? buildTls(options.tls) : undefined;
    const byName = new Map(this.exports.map((e) => [e.name, e]));
    const defaultExport = byName.get("") ?? this.exports[0]!;
    this.ctx = {
      findExport: (name) => (name === "" ? defaultExport : byName.get(name)),
      listExports: () => this.exports,
      tls,
    };
  }

  /** Start listening on every address. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    try {
      for (const address of this.options.listen) await this.listenOn(address);
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  private async listenOn(address: ListenAddress): Promise<void> {
    // Without TLS a connection reads into one reusable buffer (receive-buffer.ts): accept it paused.
    const pauseOnConnect = !this.ctx.tls;
    const server = createServer({ allowHalfOpen: true, noDelay: true, pauseOnConnect }, (socket) =>
      this.accept(pauseOnConnect ? adoptWithReceiveBuffer(socket) : socket),
    );
    if (address.kind === "unix") await removeStaleSocket(address.path);
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      const done = () => {
        server.off("error", reject);
        resolve();
      };
      if (address.kind === "unix") server.listen(address.path, done);
      else server.listen(address.port, address.host, done);
    });
    server.on("error", (err) =>
      this.logger.error("nbd listener error", { address: formatListenAddress(address), error: err.message }),
    );
    this.servers.push({ address, server });
    this.logger.info("nbd server listening", { address: this.describeAddress(address, server) });
  }

  private describeAddress(address: ListenAddress, server: Server): string {
    const bound = server.address();
    if (address.kind === "tcp" && bound && typeof bound === "object") {
      return formatListenAddress({ kind: "tcp", host: address.host, port: bound.port });
    }
    return formatListenAddress(address);
  }

  private accept(socket: Socket): void {
    socket.setNoDelay(true);
    const conn = new NbdConnection(socket, this.nextId++, this.ctx, this.limits, this.logger);
    this.connections.add(conn);
    void conn.closed.then(() => this.connections.delete(conn));
  }

  /** Bound addresses as text (TCP port 0 resolved to the real port). */
  addresses(): string[] {
    return this.servers.map(({ address, server }) => this.describeAddress(address, server));
  }

  /** Stop accepting, answer in-flight requests, refuse new ones with ESHUTDOWN, close everything. */
  async stop(): Promise<void> {
    const closing = this.servers.splice(0).map(
      ({ address, server }) =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          if (address.kind === "unix") void unlink(address.path).catch(() => {});
        }),
    );
    const graceMs = this.limits.requestDeadlineMs + 5000;
    const conns = [...this.connections];
    const all = Promise.all(conns.map((c) => c.shutdown()));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
    await Promise.race([all, timeout]);
    clearTimeout(timer);
    for (const c of this.connections) c.destroy();
    await Promise.all(closing);
    this.started = false;
  }

  /** Live state. */
  status(): NbdServerStatus {
    return {
      listening: this.addresses(),
      connections: this.connections.size,
      totalConnections: this.nextId - 1,
    };
  }
}

function positiveInt(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value <= 0)
    throw new NbdConfigError(`${name} ${value} is not a positive integer`);
  return value;
}

function validateExports(exports: readonly NbdExport[]): readonly NbdExport[] {
  if (exports.length === 0) throw new NbdConfigError("the NBD server needs at least one export");
  const seen = new Set<string>();
  for (const exp of exports) {
    if (seen.has(exp.name)) throw new NbdConfigError(`export name "${exp.name}" is used twice`);
    seen.add(exp.name);
    if (Buffer.byteLength(exp.name) > 4096)
      throw new NbdConfigError(`export name "${exp.name.slice(0, 40)}..." is too long`);
    const min = exp.minimumBlockSize ?? MIN_BLOCK_BYTES;
    if (!Number.isInteger(min) || min < 1 || min > 65536 || (min & (min - 1)) !== 0) {
      throw new NbdConfigError(
        `minimum block size ${min} of export "${exp.name}" is not a power of two in 1..64K`,
      );
    }
    const pref = exp.preferredBlockSize ?? 4096;
    if (pref < min) {
      throw new NbdConfigError(
        `preferred block size ${pref} of export "${exp.name}" is below the minimum ${min}`,
      );
    }
    if (
      !Number.isInteger(pref) ||
      pref < MIN_BLOCK_BYTES ||
      pref > MAX_PAYLOAD_BYTES ||
      (pref & (pref - 1)) !== 0
    ) {
      throw new NbdConfigError(
        `preferred block size ${pref} of export "${exp.name}" is not a power of two in 512..32M`,
      );
    }
  }
  return exports;
}

/** Remove a leftover socket file nobody listens on; refuse to steal a live one or a non-socket. */
async function removeStaleSocket(path: string): Promise<void> {
  const st = await lstat(path).catch(() => undefined);
  if (!st) return;
  if (!st.isSocket()) throw new NbdConfigError(`listen path ${path} exists and is not a socket`);
  const alive = await new Promise<boolean>((resolve) => {
    const probe = createConnection(path);
    probe.once("connect", () => {
      probe.destroy();
      resolve(true);
    });
    probe.once("error", () => resolve(false));
  });
  if (alive) throw new NbdConfigError(`listen path ${path} is in use by another server`);
  await unlink(path);
}
