// Pure encoders/decoders of NBD frames on Buffers; no I/O. Shared by the server and the client.
// Handshake frames live here; transmission frames in transmission-codec.ts (re-exported).
import {
  GREETING_BYTES,
  IHAVEOPT,
  Info,
  NBD_MAGIC,
  OPTION_HEADER_BYTES,
  OPTION_REPLY_HEADER_BYTES,
  OPTION_REPLY_MAGIC,
} from "./protocol.js";
import { NbdProtocolError } from "./errors.js";
import { readU64, writeU64 } from "./transmission-codec.js";

export * from "./transmission-codec.js";

/** Server greeting: NBDMAGIC, IHAVEOPT, handshake flags. */
export function encodeGreeting(handshakeFlags: number): Buffer {
  const buf = Buffer.alloc(GREETING_BYTES);
  buf.writeBigUInt64BE(NBD_MAGIC, 0);
  buf.writeBigUInt64BE(IHAVEOPT, 8);
  buf.writeUInt16BE(handshakeFlags, 16);
  return buf;
}

/** Decode the server greeting; returns the handshake flags. */
export function decodeGreeting(buf: Buffer): number {
  if (buf.readBigUInt64BE(0) !== NBD_MAGIC)
    throw new NbdProtocolError("bad server magic (not an NBD server)");
  if (buf.readBigUInt64BE(8) !== IHAVEOPT) throw new NbdProtocolError("server does not speak newstyle NBD");
  return buf.readUInt16BE(16);
}

/** A client option header. */
export interface OptionHeader {
  readonly option: number;
  readonly lengthBytes: number;
}

/** Encode a client option: IHAVEOPT, option, length, data. */
export function encodeOption(option: number, data: Uint8Array = Buffer.alloc(0)): Buffer {
  const buf = Buffer.alloc(OPTION_HEADER_BYTES + data.length);
  buf.writeBigUInt64BE(IHAVEOPT, 0);
  buf.writeUInt32BE(option, 8);
  buf.writeUInt32BE(data.length, 12);
  buf.set(data, OPTION_HEADER_BYTES);
  return buf;
}

/** Decode a 16-byte option header; throws on bad magic. */
export function decodeOptionHeader(buf: Buffer): OptionHeader {
  if (buf.readBigUInt64BE(0) !== IHAVEOPT) throw new NbdProtocolError("bad option magic");
  return { option: buf.readUInt32BE(8), lengthBytes: buf.readUInt32BE(12) };
}

/** An option reply header. */
export interface OptionReplyHeader {
  readonly option: number;
  readonly type: number;
  readonly lengthBytes: number;
}

/** Encode an option reply: magic, option, reply type, length, data. */
export function encodeOptionReply(option: number, type: number, data: Uint8Array = Buffer.alloc(0)): Buffer {
  const buf = Buffer.alloc(OPTION_REPLY_HEADER_BYTES + data.length);
  buf.writeBigUInt64BE(OPTION_REPLY_MAGIC, 0);
  buf.writeUInt32BE(option, 8);
  buf.writeUInt32BE(type, 12);
  buf.writeUInt32BE(data.length, 16);
  buf.set(data, OPTION_REPLY_HEADER_BYTES);
  return buf;
}

/** Decode a 20-byte option reply header; throws on bad magic. */
export function decodeOptionReplyHeader(buf: Buffer): OptionReplyHeader {
  if (buf.readBigUInt64BE(0) !== OPTION_REPLY_MAGIC) throw new NbdProtocolError("bad option reply magic");
  return { option: buf.readUInt32BE(8), type: buf.readUInt32BE(12), lengthBytes: buf.readUInt32BE(16) };
}

/** A u32-length-prefixed string. */
function encodeString(text: string): Buffer {
  const bytes = Buffer.from(text, "utf8");
  const buf = Buffer.alloc(4 + bytes.length);
  buf.writeUInt32BE(bytes.length, 0);
  bytes.copy(buf, 4);
  return buf;
}

/** Cursor over an option payload; every read is bounds-checked and throws NbdProtocolError. */
export class PayloadReader {
  private pos = 0;
  constructor(private readonly buf: Buffer) {}
  private need(n: number, what: string): void {
    if (this.pos + n > this.buf.length) throw new NbdProtocolError(`option payload too short for ${what}`);
  }
  u16(what: string): number {
    this.need(2, what);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  u32(what: string): number {
    this.need(4, what);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  u64(what: string): number {
    this.need(8, what);
    const v = readU64(this.buf, this.pos);
    this.pos += 8;
    return v;
  }
  string(lengthBytes: number, what: string): string {
    this.need(lengthBytes, what);
    const s = this.buf.toString("utf8", this.pos, this.pos + lengthBytes);
    this.pos += lengthBytes;
    return s;
  }
  rest(): Buffer {
    const r = this.buf.subarray(this.pos);
    this.pos = this.buf.length;
    return r;
  }
  end(what: string): void {
    if (this.pos !== this.buf.length) throw new NbdProtocolError(`trailing bytes in ${what}`);
  }
}

/** Payload of INFO/GO: export name and the requested info types. */
export interface GoRequest {
  readonly name: string;
  readonly infoRequests: readonly number[];
}

/** Encode the payload of INFO/GO. */
export function encodeGoRequest(req: GoRequest): Buffer {
  const name = encodeString(req.name);
  const buf = Buffer.alloc(name.length + 2 + 2 * req.infoRequests.length);
  name.copy(buf, 0);
  buf.writeUInt16BE(req.infoRequests.length, name.length);
  req.infoRequests.forEach((t, i) => buf.writeUInt16BE(t, name.length + 2 + 2 * i));
  return buf;
}

/** Decode the payload of INFO/GO; throws NbdProtocolError when malformed. */
export function decodeGoRequest(data: Buffer): GoRequest {
  const r = new PayloadReader(data);
  const name = r.string(r.u32("name length"), "export name");
  const n = r.u16("info request count");
  const infoRequests: number[] = [];
  for (let i = 0; i < n; i++) infoRequests.push(r.u16("info request"));
  r.end("GO/INFO request");
  return { name, infoRequests };
}

/** Payload of LIST_META_CONTEXT / SET_META_CONTEXT. */
export interface MetaContextRequest {
  readonly name: string;
  readonly queries: readonly string[];
}

/** Encode a meta context request payload. */
export function encodeMetaContextRequest(req: MetaContextRequest): Buffer {
  const parts = [encodeString(req.name), Buffer.alloc(4)];
  parts[1]!.writeUInt32BE(req.queries.length, 0);
  for (const q of req.queries) parts.push(encodeString(q));
  return Buffer.concat(parts);
}

/** Decode a meta context request payload; throws NbdProtocolError when malformed. */
export function decodeMetaContextRequest(data: Buffer): MetaContextRequest {
  const r = new PayloadReader(data);
  const name = r.string(r.u32("name length"), "export name");
  const n = r.u32("query count");
  const queries: string[] = [];
  for (let i = 0; i < n; i++) queries.push(r.string(r.u32("query length"), "query"));
  r.end("meta context request");
  return { name, queries };
}

/** REP_META_CONTEXT payload: context id and name. */
export function encodeMetaContextReply(id: number, name: string): Buffer {
  const bytes = Buffer.from(name, "utf8");
  const buf = Buffer.alloc(4 + bytes.length);
  buf.writeUInt32BE(id, 0);
  bytes.copy(buf, 4);
  return buf;
}

/** REP_SERVER payload: export name and optional description. */
export function encodeServerReply(name: string, description = ""): Buffer {
  return Buffer.concat([encodeString(name), Buffer.from(description, "utf8")]);
}

/** Decode a REP_SERVER payload. */
export function decodeServerReply(data: Buffer): { name: string; description: string } {
  const r = new PayloadReader(data);
  const name = r.string(r.u32("name length"), "export name");
  return { name, description: r.rest().toString("utf8") };
}

/** Information carried by REP_INFO replies. */
export type InfoReply =
  | { type: typeof Info.EXPORT; sizeBytes: number; transmissionFlags: number }
  | { type: typeof Info.NAME; name: string }
  | { type: typeof Info.DESCRIPTION; description: string }
  | { type: typeof Info.BLOCK_SIZE; minimum: number; preferred: number; maximum: number }
  | { type: number; unknown: true };

/** Encode a REP_INFO payload. */
export function encodeInfo(info: InfoReply): Buffer {
  if ("sizeBytes" in info) {
    const buf = Buffer.alloc(12);
    buf.writeUInt16BE(Info.EXPORT, 0);
    writeU64(buf, info.sizeBytes, 2);
    buf.writeUInt16BE(info.transmissionFlags, 10);
    return buf;
  }
  if ("name" in info) return Buffer.concat([u16(Info.NAME), Buffer.from(info.name, "utf8")]);
  if ("description" in info) return Buffer.concat([u16(Info.DESCRIPTION), Buffer.from(info.description)]);
  if ("minimum" in info) {
    const buf = Buffer.alloc(14);
    buf.writeUInt16BE(Info.BLOCK_SIZE, 0);
    buf.writeUInt32BE(info.minimum, 2);
    buf.writeUInt32BE(info.preferred, 6);
    buf.writeUInt32BE(info.maximum, 10);
    return buf;
  }
  return u16(info.type);
}

function u16(v: number): Buffer {
  const buf = Buffer.alloc(2);
  buf.writeUInt16BE(v, 0);
  return buf;
}

/** Decode a REP_INFO payload; unknown types decode as `{unknown: true}`. */
export function decodeInfo(data: Buffer): InfoReply {
  const r = new PayloadReader(data);
  const type = r.u16("info type");
  switch (type) {
    case Info.EXPORT: {
      const sizeBytes = r.u64("export size");
      const transmissionFlags = r.u16("transmission flags");
      r.end("INFO_EXPORT");
      return { type, sizeBytes, transmissionFlags };
    }
    case Info.NAME:
      return { type, name: r.rest().toString("utf8") };
    case Info.DESCRIPTION:
      return { type, description: r.rest().toString("utf8") };
    case Info.BLOCK_SIZE: {
      const minimum = r.u32("minimum block size");
      const preferred = r.u32("preferred block size");
      const maximum = r.u32("maximum block size");
      r.end("INFO_BLOCK_SIZE");
      return { type, minimum, preferred, maximum };
    }
    default:
      return { type, unknown: true };
  }
}

/** Reply to EXPORT_NAME: size, transmission flags and 124 zero bytes unless NO_ZEROES. */
export function encodeExportNameReply(
  sizeBytes: number,
  transmissionFlags: number,
  noZeroes: boolean,
): Buffer {
  const buf = Buffer.alloc(noZeroes ? 10 : 134);
  writeU64(buf, sizeBytes, 0);
  buf.writeUInt16BE(transmissionFlags, 8);
  return buf;
}
