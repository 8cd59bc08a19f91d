// Pure encoders/decoders of transmission-phase frames (requests, simple replies, structured chunks)
// and the u64 helpers; cookies travel as two u32 halves and offsets as numbers (no BigInt per request).
import { NbdProtocolError } from "./errors.js";
import {
  REQUEST_BYTES,
  REQUEST_MAGIC,
  SIMPLE_REPLY_BYTES,
  SIMPLE_REPLY_MAGIC,
  STRUCTURED_HEADER_BYTES,
  STRUCTURED_REPLY_MAGIC,
} from "./protocol.js";

const TWO_32 = 2 ** 32;

/** Read a u64 as a number; values above 2^53 lose precision but stay larger than any device. */
export function readU64(buf: Buffer, pos: number): number {
  return buf.readUInt32BE(pos) * TWO_32 + buf.readUInt32BE(pos + 4);
}

/** Write a non-negative safe integer as a u64. */
export function writeU64(buf: Buffer, value: number, pos: number): void {
  buf.writeUInt32BE(Math.floor(value / TWO_32), pos);
  buf.writeUInt32BE(value % TWO_32, pos + 4);
}

/** A transmission request (header only; a WRITE payload follows on the wire). */
export interface NbdRequest {
  readonly flags: number;
  readonly type: number;
  readonly cookieHi: number;
  readonly cookieLo: number;
  readonly offsetBytes: number;
  readonly lengthBytes: number;
}

/** Write a 28-byte request header at `pos`. */
export function writeRequest(buf: Buffer, req: NbdRequest, pos = 0): void {
  buf.writeUInt32BE(REQUEST_MAGIC, pos);
  buf.writeUInt16BE(req.flags, pos + 4);
  buf.writeUInt16BE(req.type, pos + 6);
  buf.writeUInt32BE(req.cookieHi, pos + 8);
  buf.writeUInt32BE(req.cookieLo, pos + 12);
  writeU64(buf, req.offsetBytes, pos + 16);
  buf.writeUInt32BE(req.lengthBytes, pos + 24);
}

/** Encode a request header into a new 28-byte buffer. */
export function encodeRequest(req: NbdRequest): Buffer {
  const buf = Buffer.alloc(REQUEST_BYTES);
  writeRequest(buf, req);
  return buf;
}

/** Decode a 28-byte request header at `pos`; throws on bad magic. */
export function decodeRequest(buf: Buffer, pos = 0): NbdRequest {
  if (buf.readUInt32BE(pos) !== REQUEST_MAGIC) throw new NbdProtocolError("bad request magic");
  return {
    flags: buf.readUInt16BE(pos + 4),
    type: buf.readUInt16BE(pos + 6),
    cookieHi: buf.readUInt32BE(pos + 8),
    cookieLo: buf.readUInt32BE(pos + 12),
    offsetBytes: readU64(buf, pos + 16),
    lengthBytes: buf.readUInt32BE(pos + 24),
  };
}

/** Write a 16-byte simple reply header at `pos`. */
export function writeSimpleReply(
  buf: Buffer,
  errno: number,
  cookieHi: number,
  cookieLo: number,
  pos = 0,
): void {
  buf.writeUInt32BE(SIMPLE_REPLY_MAGIC, pos);
  buf.writeUInt32BE(errno, pos + 4);
  buf.writeUInt32BE(cookieHi, pos + 8);
  buf.writeUInt32BE(cookieLo, pos + 12);
}

/** A decoded reply header: simple (16 bytes) or structured chunk (20 bytes). */
export type ReplyHeader =
  | { kind: "simple"; errno: number; cookieHi: number; cookieLo: number }
  | {
      kind: "structured";
      flags: number;
      type: number;
      cookieHi: number;
      cookieLo: number;
      lengthBytes: number;
    };

/** Bytes needed to decode the reply header whose magic is at the start of `buf` (4 bytes needed). */
export function replyHeaderBytes(buf: Buffer, pos = 0): number {
  const magic = buf.readUInt32BE(pos);
  if (magic === SIMPLE_REPLY_MAGIC) return SIMPLE_REPLY_BYTES;
  if (magic === STRUCTURED_REPLY_MAGIC) return STRUCTURED_HEADER_BYTES;
  throw new NbdProtocolError(`bad reply magic 0x${magic.toString(16)}`);
}

/** Decode a simple reply or structured chunk header at `pos`. */
export function decodeReplyHeader(buf: Buffer, pos = 0): ReplyHeader {
  const magic = buf.readUInt32BE(pos);
  if (magic === SIMPLE_REPLY_MAGIC) {
    return {
      kind: "simple",
      errno: buf.readUInt32BE(pos + 4),
      cookieHi: buf.readUInt32BE(pos + 8),
      cookieLo: buf.readUInt32BE(pos + 12),
    };
  }
  if (magic === STRUCTURED_REPLY_MAGIC) {
    return {
      kind: "structured",
      flags: buf.readUInt16BE(pos + 4),
      type: buf.readUInt16BE(pos + 6),
      cookieHi: buf.readUInt32BE(pos + 8),
      cookieLo: buf.readUInt32BE(pos + 12),
      lengthBytes: buf.readUInt32BE(pos + 16),
    };
  }
  throw new NbdProtocolError(`bad reply magic 0x${magic.toString(16)}`);
}

/** Write a 20-byte structured chunk header at `pos`. */
export function writeStructuredHeader(
  buf: Buffer,
  flags: number,
  type: number,
  cookieHi: number,
  cookieLo: number,
  lengthBytes: number,
  pos = 0,
): void {
  buf.writeUInt32BE(STRUCTURED_REPLY_MAGIC, pos);
  buf.writeUInt16BE(flags, pos + 4);
  buf.writeUInt16BE(type, pos + 6);
  buf.writeUInt32BE(cookieHi, pos + 8);
  buf.writeUInt32BE(cookieLo, pos + 12);
  buf.writeUInt32BE(lengthBytes, pos + 16);
}

/** Payload of an ERROR chunk: errno and message. */
export function encodeErrorChunkPayload(errno: number, message: string): Buffer {
  const msg = Buffer.from(message.slice(0, 1024), "utf8");
  const buf = Buffer.alloc(6 + msg.length);
  buf.writeUInt32BE(errno, 0);
  buf.writeUInt16BE(msg.length, 4);
  msg.copy(buf, 6);
  return buf;
}

/** Decode the payload of an ERROR / ERROR_OFFSET chunk. */
export function decodeErrorChunkPayload(data: Buffer): { errno: number; message: string } {
  if (data.length < 6 || data.length < 6 + data.readUInt16BE(4)) {
    throw new NbdProtocolError("error chunk payload too short");
  }
  return { errno: data.readUInt32BE(0), message: data.toString("utf8", 6, 6 + data.readUInt16BE(4)) };
}
