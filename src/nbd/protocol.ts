// NBD protocol constants (fixed newstyle handshake, simple and structured replies), per doc/proto.md.
// Shared by the server (src/nbd) and the client device (src/nbd/nbd-client-device.ts).

/** "NBDMAGIC": first 8 bytes of the server greeting. */
export const NBD_MAGIC = 0x4e42444d41474943n;
/** "IHAVEOPT": newstyle greeting magic and the prefix of every client option. */
export const IHAVEOPT = 0x49484156454f5054n;
/** Magic of every option reply. */
export const OPTION_REPLY_MAGIC = 0x0003e889045565a9n;
/** Magic of a transmission request. */
export const REQUEST_MAGIC = 0x25609513;
/** Magic of a simple reply. */
export const SIMPLE_REPLY_MAGIC = 0x67446698;
/** Magic of a structured reply chunk. */
export const STRUCTURED_REPLY_MAGIC = 0x668e33ef;

/** Sizes of the fixed-size frames, in bytes. */
export const GREETING_BYTES = 18;
export const OPTION_HEADER_BYTES = 16;
export const OPTION_REPLY_HEADER_BYTES = 20;
export const REQUEST_BYTES = 28;
export const SIMPLE_REPLY_BYTES = 16;
export const STRUCTURED_HEADER_BYTES = 20;
/** Payload length of an OPTION_DATA chunk header (the u64 offset before the data). */
export const OFFSET_DATA_PREFIX_BYTES = 8;

/** Handshake flags (server, u16). */
export const FLAG_FIXED_NEWSTYLE = 1 << 0;
export const FLAG_NO_ZEROES = 1 << 1;
/** Client flags (u32). */
export const CLIENT_FIXED_NEWSTYLE = 1 << 0;
export const CLIENT_NO_ZEROES = 1 << 1;
export const KNOWN_CLIENT_FLAGS = CLIENT_FIXED_NEWSTYLE | CLIENT_NO_ZEROES;

/** Option codes. */
export const Opt = {
  EXPORT_NAME: 1,
  ABORT: 2,
  LIST: 3,
  PEEK_EXPORT: 4,
  STARTTLS: 5,
  INFO: 6,
  GO: 7,
  STRUCTURED_REPLY: 8,
  LIST_META_CONTEXT: 9,
  SET_META_CONTEXT: 10,
  EXTENDED_HEADERS: 11,
} as const;

/** Option reply types. */
export const Rep = {
  ACK: 1,
  SERVER: 2,
  INFO: 3,
  META_CONTEXT: 4,
  ERR_UNSUP: 0x80000001,
  ERR_POLICY: 0x80000002,
  ERR_INVALID: 0x80000003,
  ERR_PLATFORM: 0x80000004,
  ERR_TLS_REQD: 0x80000005,
  ERR_UNKNOWN: 0x80000006,
  ERR_SHUTDOWN: 0x80000007,
  ERR_BLOCK_SIZE_REQD: 0x80000008,
  ERR_TOO_BIG: 0x80000009,
} as const;

/** True when an option reply type is an error (high bit set). */
export function isErrorReply(type: number): boolean {
  return type >= 0x80000000;
}

/** Information types of REP_INFO (GO / INFO). */
export const Info = {
  EXPORT: 0,
  NAME: 1,
  DESCRIPTION: 2,
  BLOCK_SIZE: 3,
} as const;

/** Transmission flags (u16). */
export const TFlag = {
  HAS_FLAGS: 1 << 0,
  READ_ONLY: 1 << 1,
  SEND_FLUSH: 1 << 2,
  SEND_FUA: 1 << 3,
  ROTATIONAL: 1 << 4,
  SEND_TRIM: 1 << 5,
  SEND_WRITE_ZEROES: 1 << 6,
  SEND_DF: 1 << 7,
  CAN_MULTI_CONN: 1 << 8,
  SEND_RESIZE: 1 << 9,
  SEND_CACHE: 1 << 10,
  SEND_FAST_ZERO: 1 << 11,
} as const;

/** Command types. */
export const Cmd = {
  READ: 0,
  WRITE: 1,
  DISC: 2,
  FLUSH: 3,
  TRIM: 4,
  CACHE: 5,
  WRITE_ZEROES: 6,
  BLOCK_STATUS: 7,
} as const;

/** Command flags (u16). */
export const CmdFlag = {
  FUA: 1 << 0,
  NO_HOLE: 1 << 1,
  DF: 1 << 2,
  REQ_ONE: 1 << 3,
  FAST_ZERO: 1 << 4,
} as const;

/** Structured reply chunk flags and types. */
export const ReplyFlag = { DONE: 1 } as const;
export const ReplyType = {
  NONE: 0,
  OFFSET_DATA: 1,
  OFFSET_HOLE: 2,
  BLOCK_STATUS: 5,
  ERROR: 0x8001,
  ERROR_OFFSET: 0x8002,
} as const;

/** NBD errno values on the wire. */
export const Errno = {
  OK: 0,
  EPERM: 1,
  EIO: 5,
  ENOMEM: 12,
  EINVAL: 22,
  ENOSPC: 28,
  EOVERFLOW: 75,
  ENOTSUP: 95,
  ESHUTDOWN: 108,
} as const;

/** Name of an NBD errno value, for messages. */
export function errnoName(errno: number): string {
  for (const [name, value] of Object.entries(Errno)) if (value === errno) return name;
  return `errno ${errno}`;
}

/** The one metadata context this server implements. */
export const BASE_ALLOCATION = "base:allocation";
/** Context id the server assigns to base:allocation (any non-zero-ish stable value works). */
export const BASE_ALLOCATION_ID = 1;

/** Protocol limits. */
export const MAX_STRING_BYTES = 4096;
/** Largest READ/WRITE payload the server advertises and accepts (32 MiB). */
export const MAX_PAYLOAD_BYTES = 32 * 1024 * 1024;
/** Smallest block size the server advertises. */
export const MIN_BLOCK_BYTES = 512;
/** Largest option payload the server buffers; longer options are skipped and answered ERR_TOO_BIG. */
export const MAX_OPTION_BYTES = 64 * 1024;
/** Default TCP port of NBD. */
export const DEFAULT_PORT = 10809;
