// Parsing of listen addresses and NBD URIs names the bad value.
import { test } from "node:test";
import assert from "node:assert/strict";
import { formatListenAddress, isLoopbackHost, parseListenAddress } from "./listen-address.js";
import { formatNbdUri, parseNbdUri } from "./nbd-uri.js";
import { NbdConfigError } from "./errors.js";

test("listen addresses parse and format", () => {
  assert.deepEqual(parseListenAddress("unix:/run/x.sock"), { kind: "unix", path: "/run/x.sock" });
  assert.deepEqual(parseListenAddress("tcp:127.0.0.1:10809"), {
    kind: "tcp",
    host: "127.0.0.1",
    port: 10809,
  });
  assert.deepEqual(parseListenAddress("tcp:[::1]:0"), { kind: "tcp", host: "::1", port: 0 });
  assert.deepEqual(parseListenAddress("tcp:10809"), { kind: "tcp", host: "127.0.0.1", port: 10809 });
  for (const text of ["unix:/a", "tcp:localhost:1", "tcp:[::1]:10809"]) {
    assert.equal(formatListenAddress(parseListenAddress(text)), text);
  }
  assert.ok(isLoopbackHost("127.0.0.5") && isLoopbackHost("::1") && !isLoopbackHost("0.0.0.0"));
});

test("bad listen addresses are refused with the value named", () => {
  for (const text of ["", "unix:", "tcp:host", "tcp:host:99999", "tcp:[zz]:1", "http://x", "tcp::80"]) {
    assert.throws(
      () => parseListenAddress(text),
      (err: unknown) => err instanceof NbdConfigError && err.message.includes(`"${text}"`),
    );
  }
});

test("NBD URIs in libnbd forms", () => {
  assert.deepEqual(parseNbdUri("nbd://example.com/disk"), {
    kind: "tcp",
    host: "example.com",
    port: 10809,
    exportName: "disk",
  });
  assert.deepEqual(parseNbdUri("nbd://[::1]:2000/"), {
    kind: "tcp",
    host: "::1",
    port: 2000,
    exportName: "",
  });
  assert.deepEqual(parseNbdUri("nbd+unix:///a%20b?socket=/tmp/s.sock"), {
    kind: "unix",
    path: "/tmp/s.sock",
    exportName: "a b",
  });
  const t = parseNbdUri("nbd+unix:///x?socket=/s");
  assert.deepEqual(parseNbdUri(formatNbdUri(t)), t);
  for (const bad of ["nbd+unix:///x", "http://h/x", "nbd+unix://host/x?socket=/s", "not a uri"]) {
    assert.throws(() => parseNbdUri(bad), NbdConfigError);
  }
});
