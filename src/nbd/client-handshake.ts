// Client side of the fixed newstyle handshake: GO with INFO_BLOCK_SIZE, falling back to
// EXPORT_NAME for servers that do not know GO. Simple replies only (no STRUCTURED_REPLY).
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
import type { SocketIo } from "./socket-io.js";

/** What the client learns about the export. */
export interface ExportDetails {
  readonly sizeBytes: number;
  readonly transmissionFlags: number;
  /** Block size constraints (0 when the server did not say). */
  readonly minimumBlock: number;
  readonly preferredBlock: number;
  readonly maximumBlock: number;
}

/** Negotiate `exportName` on a fresh connection. */
export async function clientHandshake(io: SocketIo, exportName: string): Promise<ExportDetails> {
  const handshakeFlags = decodeGreeting(await io.readExact(GREETING_BYTES));
  if (!(handshakeFlags & FLAG_FIXED_NEWSTYLE))
    throw new NbdProtocolError("server does not support fixed newstyle");
  const noZeroes = (handshakeFlags & FLAG_NO_ZEROES) !== 0;
  const flags = Buffer.alloc(4);
  flags.writeUInt32BE(CLIENT_FIXED_NEWSTYLE | (noZeroes ? CLIENT_NO_ZEROES : 0), 0);
  io.write(flags);
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
    if (header.type === Rep.ERR_UNSUP) return exportNameFallback(io, exportName, noZeroes);
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
  return { sizeBytes, transmissionFlags, ...sizes };
}

async function exportNameFallback(
  io: SocketIo,
  exportName: string,
  noZeroes: boolean,
): Promise<ExportDetails> {
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
