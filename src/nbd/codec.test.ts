// Round trips and rejections of the pure NBD codec.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as c from "./codec.js";
import { NbdProtocolError } from "./errors.js";
import { Info, Opt, Rep, REQUEST_BYTES, ReplyFlag, ReplyType } from "./protocol.js";

test("greeting round trip and bad magic", () => {
  assert.equal(c.decodeGreeting(c.encodeGreeting(3)), 3);
  const bad = c.encodeGreeting(3);
  bad[0] = 0;
  assert.throws(() => c.decodeGreeting(bad), NbdProtocolError);
});

test("option and option reply round trip", () => {
  const opt = c.encodeOption(Opt.GO, Buffer.from("abc"));
  assert.deepEqual(c.decodeOptionHeader(opt), { option: Opt.GO, lengthBytes: 3 });
  assert.equal(opt.subarray(16).toString(), "abc");
  const rep = c.encodeOptionReply(Opt.LIST, Rep.ERR_UNSUP, Buffer.from("no"));
  assert.deepEqual(c.decodeOptionReplyHeader(rep), { option: Opt.LIST, type: Rep.ERR_UNSUP, lengthBytes: 2 });
  rep[3] ^= 1;
  assert.throws(() => c.decodeOptionReplyHeader(rep), NbdProtocolError);
  opt[7] ^= 1;
  assert.throws(() => c.decodeOptionHeader(opt), NbdProtocolError);
});

test("GO and meta context requests round trip; truncation is rejected", () => {
  const go = { name: "disk/é", infoRequests: [Info.NAME, Info.BLOCK_SIZE] };
  const encoded = c.encodeGoRequest(go);
  assert.deepEqual(c.decodeGoRequest(encoded), go);
  for (let cut = 0; cut < encoded.length; cut++) {
    assert.throws(() => c.decodeGoRequest(encoded.subarray(0, cut)), NbdProtocolError);
  }
  assert.throws(() => c.decodeGoRequest(Buffer.concat([encoded, Buffer.from([0])])), NbdProtocolError);
  const meta = { name: "", queries: ["base:allocation", "qemu:dirty-bitmap:x"] };
  assert.deepEqual(c.decodeMetaContextRequest(c.encodeMetaContextRequest(meta)), meta);
  assert.throws(() => c.decodeMetaContextRequest(Buffer.from([0, 0, 0, 9, 1])), NbdProtocolError);
});

test("info replies round trip", () => {
  const infos: c.InfoReply[] = [
    { type: Info.EXPORT, sizeBytes: 2 ** 40 + 512, transmissionFlags: 0x1ff },
    { type: Info.NAME, name: "disk" },
    { type: Info.DESCRIPTION, description: "a disk" },
    { type: Info.BLOCK_SIZE, minimum: 512, preferred: 4096, maximum: 32 << 20 },
  ];
  for (const info of infos) assert.deepEqual(c.decodeInfo(c.encodeInfo(info)), info);
  assert.deepEqual(c.decodeInfo(Buffer.from([0, 9, 1])), { type: 9, unknown: true });
  assert.throws(() => c.decodeInfo(Buffer.from([0, 0, 1])), NbdProtocolError);
});

test("server and meta context replies, export-name reply", () => {
  assert.deepEqual(c.decodeServerReply(c.encodeServerReply("a", "desc")), { name: "a", description: "desc" });
  const meta = c.encodeMetaContextReply(7, "base:allocation");
  assert.equal(meta.readUInt32BE(0), 7);
  assert.equal(meta.subarray(4).toString(), "base:allocation");
  const r = c.encodeExportNameReply(1 << 30, 0x10d, false);
  assert.equal(r.length, 134);
  assert.equal(c.readU64(r, 0), 1 << 30);
  assert.equal(r.readUInt16BE(8), 0x10d);
  assert.equal(c.encodeExportNameReply(1, 1, true).length, 10);
});

test("request round trip keeps cookies and large offsets exact", () => {
  const req = {
    flags: 1,
    type: 1,
    cookieHi: 0xdeadbeef,
    cookieLo: 0xffffffff,
    offsetBytes: 2 ** 52 + 4096,
    lengthBytes: 65536,
  };
  const buf = c.encodeRequest(req);
  assert.equal(buf.length, REQUEST_BYTES);
  assert.deepEqual(c.decodeRequest(buf), req);
  buf[0] = 0;
  assert.throws(() => c.decodeRequest(buf), NbdProtocolError);
});

test("simple and structured reply headers round trip", () => {
  const simple = Buffer.alloc(16);
  c.writeSimpleReply(simple, 5, 1, 2);
  assert.deepEqual(c.decodeReplyHeader(simple), { kind: "simple", errno: 5, cookieHi: 1, cookieLo: 2 });
  assert.equal(c.replyHeaderBytes(simple), 16);
  const chunk = Buffer.alloc(20);
  c.writeStructuredHeader(chunk, ReplyFlag.DONE, ReplyType.ERROR, 3, 4, 10);
  assert.deepEqual(c.decodeReplyHeader(chunk), {
    kind: "structured",
    flags: 1,
    type: 0x8001,
    cookieHi: 3,
    cookieLo: 4,
    lengthBytes: 10,
  });
  assert.equal(c.replyHeaderBytes(chunk), 20);
  assert.throws(() => c.decodeReplyHeader(Buffer.alloc(20)), NbdProtocolError);
  assert.deepEqual(c.decodeErrorChunkPayload(c.encodeErrorChunkPayload(28, "full")), {
    errno: 28,
    message: "full",
  });
});
