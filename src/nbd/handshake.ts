// Server side of the fixed newstyle handshake: greeting, client flags, then option haggling
// until EXPORT_NAME or GO picks an export. Malformed input is answered or closes the connection.
import { TLSSocket, type SecureContext, type TLSSocketOptions } from "node:tls";
import type { Socket } from "node:net";
import {
  decodeGoRequest,
  decodeMetaContextRequest,
  decodeOptionHeader,
  encodeExportNameReply,
  encodeGreeting,
  encodeInfo,
  encodeMetaContextReply,
  encodeOptionReply,
  encodeServerReply,
} from "./codec.js";
import { NbdProtocolError } from "./errors.js";
import { blockSizesOf, transmissionFlagsOf, type NbdExport } from "./export-info.js";
import {
  BASE_ALLOCATION,
  BASE_ALLOCATION_ID,
  CLIENT_FIXED_NEWSTYLE,
  CLIENT_NO_ZEROES,
  FLAG_FIXED_NEWSTYLE,
  FLAG_NO_ZEROES,
  Info,
  KNOWN_CLIENT_FLAGS,
  MAX_OPTION_BYTES,
  OPTION_HEADER_BYTES,
  Opt,
  Rep,
} from "./protocol.js";
import type { SocketIo } from "./socket-io.js";

/** TLS as the handshake needs it: a secure context and whether plaintext exports are refused. */
export interface HandshakeTls {
  readonly secureContext: SecureContext;
  readonly required: boolean;
  /** Extra TLSSocket options (PSK callback, ciphers; Node honours pskCallback on server TLSSockets). */
  readonly socketOptions?: TLSSocketOptions & {
    pskCallback?: (socket: unknown, identity: string) => Buffer | null;
  };
}

/** What the handshake needs from the server. */
export interface HandshakeContext {
  findExport(name: string): NbdExport | undefined;
  listExports(): readonly NbdExport[];
  readonly tls: HandshakeTls | undefined;
}

/** Outcome of a successful handshake. */
export interface HandshakeResult {
  readonly export: NbdExport;
  readonly structuredReplies: boolean;
  readonly baseAllocation: boolean;
  readonly tls: boolean;
}

/** Thrown when the handshake ends without an export (abort, refusal, protocol error). */
export class HandshakeEnded extends NbdProtocolError {}

/** Run the handshake on `io`; resolves with the chosen export or rejects (caller closes). */
export async function serverHandshake(io: SocketIo, ctx: HandshakeContext): Promise<HandshakeResult> {
  io.write(encodeGreeting(FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES));
  const clientFlags = (await io.readExact(4)).readUInt32BE(0);
  if (clientFlags & ~KNOWN_CLIENT_FLAGS)
    throw new HandshakeEnded(`unknown client flags 0x${clientFlags.toString(16)}`);
  if (!(clientFlags & CLIENT_FIXED_NEWSTYLE))
    throw new HandshakeEnded("client does not support fixed newstyle");
  const noZeroes = (clientFlags & CLIENT_NO_ZEROES) !== 0;
  let structuredReplies = false;
  let tlsActive = false;
  let metaContextExport: string | undefined;

  const reply = (option: number, type: number, data?: Uint8Array) =>
    io.write(encodeOptionReply(option, type, data));
  const error = (option: number, type: number, message: string) => reply(option, type, Buffer.from(message));

  for (;;) {
    const { option, lengthBytes } = decodeOptionHeader(await io.readExact(OPTION_HEADER_BYTES));
    if (lengthBytes > MAX_OPTION_BYTES) {
      if (option === Opt.EXPORT_NAME) throw new HandshakeEnded(`export name of ${lengthBytes} bytes`);
      await io.skipExact(lengthBytes);
      error(option, Rep.ERR_TOO_BIG, `option payload of ${lengthBytes} bytes is too large`);
      continue;
    }
    const data = await io.readExact(lengthBytes);
    if (ctx.tls?.required && !tlsActive && option !== Opt.STARTTLS && option !== Opt.ABORT) {
      if (option === Opt.EXPORT_NAME) throw new HandshakeEnded("EXPORT_NAME before STARTTLS");
      error(option, Rep.ERR_TLS_REQD, "TLS is required: send STARTTLS first");
      continue;
    }
    switch (option) {
      case Opt.EXPORT_NAME: {
        const exp = ctx.findExport(data.toString("utf8"));
        if (!exp) throw new HandshakeEnded(`unknown export "${data.toString("utf8")}"`);
        const flags = transmissionFlagsOf(exp.device, structuredReplies);
        io.write(encodeExportNameReply(exp.device.sizeBytes, flags, noZeroes));
        return { export: exp, structuredReplies, baseAllocation: false, tls: tlsActive };
      }
      case Opt.ABORT:
        reply(option, Rep.ACK);
        throw new HandshakeEnded("client aborted the handshake");
      case Opt.LIST:
        if (lengthBytes !== 0) {
          error(option, Rep.ERR_INVALID, "LIST takes no data");
          break;
        }
        for (const exp of ctx.listExports())
          reply(option, Rep.SERVER, encodeServerReply(exp.name, exp.description));
        reply(option, Rep.ACK);
        break;
      case Opt.STARTTLS:
        if (!ctx.tls) error(option, Rep.ERR_UNSUP, "TLS is not configured");
        else if (tlsActive) error(option, Rep.ERR_INVALID, "TLS is already active");
        else if (lengthBytes !== 0) error(option, Rep.ERR_INVALID, "STARTTLS takes no data");
        else {
          reply(option, Rep.ACK);
          await upgradeToTls(io, ctx.tls);
          tlsActive = true;
          structuredReplies = false;
          metaContextExport = undefined;
        }
        break;
      case Opt.INFO:
      case Opt.GO: {
        let req;
        try {
          req = decodeGoRequest(data);
        } catch (err) {
          error(option, Rep.ERR_INVALID, (err as Error).message);
          break;
        }
        const exp = ctx.findExport(req.name);
        if (!exp) {
          error(option, Rep.ERR_UNKNOWN, `unknown export "${req.name}"`);
          break;
        }
        const flags = transmissionFlagsOf(exp.device, structuredReplies);
        reply(
          option,
          Rep.INFO,
          encodeInfo({ type: Info.EXPORT, sizeBytes: exp.device.sizeBytes, transmissionFlags: flags }),
        );
        if (req.infoRequests.includes(Info.NAME))
          reply(option, Rep.INFO, encodeInfo({ type: Info.NAME, name: exp.name }));
        if (req.infoRequests.includes(Info.DESCRIPTION) && exp.description) {
          reply(option, Rep.INFO, encodeInfo({ type: Info.DESCRIPTION, description: exp.description }));
        }
        reply(option, Rep.INFO, encodeInfo({ type: Info.BLOCK_SIZE, ...blockSizesOf(exp) }));
        reply(option, Rep.ACK);
        if (option === Opt.GO) {
          const baseAllocation = structuredReplies && metaContextExport === req.name;
          return { export: exp, structuredReplies, baseAllocation, tls: tlsActive };
        }
        break;
      }
      case Opt.STRUCTURED_REPLY:
        if (lengthBytes !== 0) error(option, Rep.ERR_INVALID, "STRUCTURED_REPLY takes no data");
        else {
          structuredReplies = true;
          reply(option, Rep.ACK);
        }
        break;
      case Opt.LIST_META_CONTEXT:
      case Opt.SET_META_CONTEXT: {
        const set = option === Opt.SET_META_CONTEXT;
        if (set && !structuredReplies) {
          error(option, Rep.ERR_INVALID, "SET_META_CONTEXT needs structured replies");
          break;
        }
        let req;
        try {
          req = decodeMetaContextRequest(data);
        } catch (err) {
          error(option, Rep.ERR_INVALID, (err as Error).message);
          break;
        }
        if (!ctx.findExport(req.name)) {
          error(option, Rep.ERR_UNKNOWN, `unknown export "${req.name}"`);
          break;
        }
        const matches = req.queries.some((q) => q === BASE_ALLOCATION || (!set && q === "base:"));
        const listAll = !set && req.queries.length === 0;
        if (matches || listAll)
          reply(option, Rep.META_CONTEXT, encodeMetaContextReply(BASE_ALLOCATION_ID, BASE_ALLOCATION));
        if (set) metaContextExport = matches ? req.name : undefined;
        reply(option, Rep.ACK);
        break;
      }
      default:
        error(option, Rep.ERR_UNSUP, `option ${option} is not supported`);
    }
  }
}

/** Wrap the plain socket in TLS (server side) and continue the handshake over it. */
async function upgradeToTls(io: SocketIo, tls: HandshakeTls): Promise<void> {
  const leftover = io.detach();
  // The TLS layer owns the raw socket now; its errors surface through the TLS socket.
  io.stream.on("error", () => {});
  if (leftover.length > 0) throw new HandshakeEnded("client sent data before the STARTTLS reply");
  const secure = new TLSSocket(io.stream as Socket, {
    ...tls.socketOptions,
    isServer: true,
    secureContext: tls.secureContext,
  });
  await new Promise<void>((resolve, reject) => {
    secure.once("secure", resolve);
    secure.once("error", reject);
    secure.once("close", () => reject(new HandshakeEnded("connection closed during TLS negotiation")));
  });
  io.attach(secure);
}
