// Client side of the fixed newstyle handshake: STARTTLS when the target asks for TLS (certificates
// or PSK, as the server offers them), STRUCTURED_REPLY when the server has it, then GO with
// INFO_BLOCK_SIZE, falling back to EXPORT_NAME for servers that do not know GO.
import { readFileSync } from "node:fs";
import type { Socket } from "node:net";
import { join } from "node:path";
import { connect as tlsConnect, type ConnectionOptions } from "node:tls";
import {
  decodeGreeting,
  decodeInfo,
  decodeOptionReplyHeader,
  encodeGoRequest,
  encodeOption,
  readU64,
} from "./codec.js";
import { NbdOptionError, NbdProtocolError } from "./errors.js";
import {
  CLIENT_FIXED_NEWSTYLE,
  CLIENT_NO_ZEROES,
  FLAG_FIXED_NEWSTYLE,
  FLAG_NO_ZEROES,
  GREETING_BYTES,
  Info,
  isErrorReply,
  OPTION_REPLY_HEADER_BYTES,
  Opt,
  Rep,
} from "./protocol.js";
import type { NbdClientTls } from "./nbd-uri.js";
import type { SocketIo } from "./socket-io.js";
import { parsePskFile } from "./tls.js";

/** What the client learns about the export. */
export interface ExportDetails {
  readonly sizeBytes: number;
  readonly transmissionFlags: number;
  /** Block size constraints (0 when the server did not say). */
  readonly minimumBlock: number;
  readonly preferredBlock: number;
  readonly maximumBlock: number;
  /** The server sends structured replies (READ answers are chunks). */
  readonly structuredReplies: boolean;
  /** The connection runs over TLS. */
  readonly tls: boolean;
}

/** What the client asks for in the handshake. */
export interface ClientHandshakeOptions {
  readonly exportName: string;
  /** Negotiate TLS (required: a server without it is refused). */
  readonly tls?: NbdClientTls;
  /** Host name to check the server certificate against (TCP targets). */
  readonly host?: string;
  /** Ask for structured replies (default true). */
  readonly structuredReplies?: boolean;
}

/** Read one option reply (header and data) to `option`. */
async function optionReply(io: SocketIo, option: number): Promise<{ type: number; data: Buffer }> {
  const header = decodeOptionReplyHeader(await io.readExact(OPTION_REPLY_HEADER_BYTES));
  if (header.lengthBytes > 1 << 20) throw new NbdProtocolError(`option reply of ${header.lengthBytes} bytes`);
  const data = await io.readExact(header.lengthBytes);
  if (header.option !== option) {
    throw new NbdProtocolError(`reply to option ${header.option}, expected ${option}`);
  }
  return { type: header.type, data };
}

/** TLS client options for a target: CA (and client certificate) from a directory, or a PSK identity. */
function tlsOptions(tls: NbdClientTls, host: string | undefined): ConnectionOptions {
  if (tls.pskFile) {
    const keys = parsePskFile(readFileSync(tls.pskFile, "utf8"), tls.pskFile);
    const key = keys.get(tls.username!);
    if (!key) throw new NbdProtocolError(`PSK file ${tls.pskFile} has no key for "${tls.username}"`);
    return {
      ciphers: "PSK",
      minVersion: "TLSv1.2",
      maxVersion: "TLSv1.2",
      pskCallback: () => ({ identity: tls.username!, psk: key }),
      checkServerIdentity: () => undefined,
    };
  }
  const dir = tls.certificatesDir!;
  const optional = (name: string) => {
    try {
      return readFileSync(join(dir, name));
    } catch {
      return undefined;
    }
  };
  const ca = optional("ca-cert.pem");
  const cert = optional("client-cert.pem");
  const key = optional("client-key.pem");
  return {
    ...(ca ? { ca } : {}),
    ...(cert && key ? { cert, key } : {}),
    rejectUnauthorized: tls.verifyPeer,
    // A Unix socket has no host name to check; the chain is still verified against the CA.
    ...(host ? { servername: host } : { checkServerIdentity: () => undefined }),
  };
}

/** STARTTLS, then wrap the socket in TLS and go on over it. */
async function startTls(io: SocketIo, tls: NbdClientTls, host: string | undefined): Promise<void> {
  const options = tlsOptions(tls, host);
  io.write(encodeOption(Opt.STARTTLS));
  const reply = await optionReply(io, Opt.STARTTLS);
  if (reply.type !== Rep.ACK) {
    const why = reply.data.toString("utf8") || `reply 0x${reply.type.toString(16)}`;
    throw new NbdOptionError(Opt.STARTTLS, reply.type, `server refused STARTTLS: ${why}`);
  }
  io.detach();
  const raw = io.stream as Socket;
  raw.on("error", () => {});
  const secure = tlsConnect({ ...options, socket: raw });
  await new Promise<void>((resolve, reject) => {
    secure.once("secureConnect", resolve);
    secure.once("error", (err) => reject(new NbdProtocolError(`TLS negotiation failed: ${err.message}`)));
    secure.once("close", () => reject(new NbdProtocolError("connection closed during TLS negotiation")));
  });
  io.attach(secure);
}

/** Negotiate the export on a fresh connection (TLS and structured replies as asked). */
export async function clientHandshake(
  io: SocketIo,
  target: ClientHandshakeOptions | string,
): Promise<ExportDetails> {
  const options = typeof target === "string" ? { exportName: target } : target;
  const exportName = options.exportName;
  const handshakeFlags = decodeGreeting(await io.readExact(GREETING_BYTES));
  if (!(handshakeFlags & FLAG_FIXED_NEWSTYLE))
    throw new NbdProtocolError("server does not support fixed newstyle");
  const noZeroes = (handshakeFlags & FLAG_NO_ZEROES) !== 0;
  const flags = Buffer.alloc(4);
  flags.writeUInt32BE(CLIENT_FIXED_NEWSTYLE | (noZeroes ? CLIENT_NO_ZEROES : 0), 0);
  io.write(flags);
  if (options.tls) await startTls(io, options.tls, options.host);
  let structuredReplies = false;
  if (options.structuredReplies ?? true) {
    io.write(encodeOption(Opt.STRUCTURED_REPLY));
    const reply = await optionReply(io, Opt.STRUCTURED_REPLY);
    structuredReplies = reply.type === Rep.ACK;
  }
  const tls = options.tls !== undefined;
  io.write(encodeOption(Opt.GO, encodeGoRequest({ name: exportName, infoRequests: [Info.BLOCK_SIZE] })));

  let sizeBytes = -1;
  let transmissionFlags = 0;
  let sizes = { minimumBlock: 0, preferredBlock: 0, maximumBlock: 0 };
  for (;;) {
    const header = decodeOptionReplyHeader(await io.readExact(OPTION_REPLY_HEADER_BYTES));
    if (header.lengthBytes > 1 << 20)
      throw new NbdProtocolError(`option reply of ${header.lengthBytes} bytes`);
    const data = await io.readExact(header.lengthBytes);
    if (header.option !== Opt.GO) throw new NbdProtocolError(`reply to option ${header.option}, expected GO`);
    if (header.type === Rep.ERR_UNSUP) {
      return { ...(await exportNameFallback(io, exportName, noZeroes)), structuredReplies, tls };
    }
    if (isErrorReply(header.type)) {
      const why = data.toString("utf8") || `error 0x${header.type.toString(16)}`;
      throw new NbdOptionError(Opt.GO, header.type, `server refused export "${exportName}": ${why}`);
    }
    if (header.type === Rep.ACK) break;
    if (header.type !== Rep.INFO) continue;
    const info = decodeInfo(data);
    if ("sizeBytes" in info) {
      sizeBytes = info.sizeBytes;
      transmissionFlags = info.transmissionFlags;
    } else if ("minimum" in info) {
      sizes = { minimumBlock: info.minimum, preferredBlock: info.preferred, maximumBlock: info.maximum };
    }
  }
  if (sizeBytes < 0) throw new NbdProtocolError("server acknowledged GO without INFO_EXPORT");
  return { sizeBytes, transmissionFlags, ...sizes, structuredReplies, tls };
}

async function exportNameFallback(
  io: SocketIo,
  exportName: string,
  noZeroes: boolean,
): Promise<Omit<ExportDetails, "structuredReplies" | "tls">> {
  io.write(encodeOption(Opt.EXPORT_NAME, Buffer.from(exportName, "utf8")));
  const reply = await io.readExact(noZeroes ? 10 : 134);
  return {
    sizeBytes: readU64(reply, 0),
    transmissionFlags: reply.readUInt16BE(8),
    minimumBlock: 0,
    preferredBlock: 0,
    maximumBlock: 0,
  };
}
