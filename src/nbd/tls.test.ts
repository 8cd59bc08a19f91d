// TLS option validation and the psktool key-file format.
import { test } from "node:test";
import assert from "node:assert/strict";
import { buildTls, parsePskFile } from "./tls.js";
import { NbdConfigError } from "./errors.js";

test("psk files parse identity:hexkey lines and name bad lines", () => {
  const keys = parsePskFile("# comment\nalice:00ff10\n\nbob:with:colon:abcd\n");
  assert.deepEqual([...keys.keys()], ["alice", "bob:with:colon"]);
  assert.deepEqual(keys.get("alice"), Buffer.from([0, 0xff, 0x10]));
  assert.throws(() => parsePskFile("alice:xyz\n", "k.psk"), /k.psk line 1/);
  assert.throws(() => parsePskFile("\n# nothing\n"), NbdConfigError);
});

test("TLS options are validated", () => {
  assert.throws(() => buildTls({ cert: "x" }), /both a certificate and a key/);
  assert.throws(
    () => buildTls({ certFile: "/nonexistent/cert.pem", keyFile: "/nonexistent/key.pem" }),
    /cannot read TLS certificate/,
  );
  assert.throws(() => buildTls({ cert: "not pem", key: "not pem" }), /invalid TLS certificate or key/);
  const psk = buildTls({ psk: new Map([["alice", Buffer.alloc(32, 1)]]) });
  assert.equal(psk.required, true);
  assert.equal(typeof psk.socketOptions?.pskCallback, "function");
  assert.deepEqual(psk.socketOptions!.pskCallback!(undefined, "alice"), Buffer.alloc(32, 1));
  assert.equal(psk.socketOptions!.pskCallback!(undefined, "mallory"), null);
  assert.equal(buildTls({ psk: new Map([["a", Buffer.alloc(16)]]), required: false }).required, false);
});
