// Tests of listen address parsing and formatting.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ListenAddressError } from "./errors.js";
import { formatListenAddress, isLocalAddress, parseListenAddress } from "./listen-address.js";

describe("parseListenAddress", () => {
  it("parses tcp (IPv4, name, IPv6) and unix addresses and formats them back", () => {
    for (const [text, parsed] of [
      ["tcp:127.0.0.1:7878", { kind: "tcp", host: "127.0.0.1", port: 7878 }],
      ["tcp:localhost:0", { kind: "tcp", host: "localhost", port: 0 }],
      ["tcp:[::1]:10809", { kind: "tcp", host: "::1", port: 10809 }],
      ["unix:/run/dmremap/api.sock", { kind: "unix", path: "/run/dmremap/api.sock" }],
    ] as const) {
      assert.deepEqual(parseListenAddress(text), parsed);
      assert.equal(formatListenAddress(parsed), text);
    }
  });

  it("refuses malformed addresses, naming them", () => {
    for (const text of [
      "127.0.0.1:80",
      "tcp:host",
      "tcp:h:70000",
      "tcp:[zz]:1",
      "unix:rel.sock",
      "udp:1:2",
    ]) {
      assert.throws(
        () => parseListenAddress(text),
        (err: ListenAddressError) => err.code === "ELISTEN" && err.message.includes(`"${text}"`),
      );
    }
  });

  it("tells local addresses from reachable ones", () => {
    assert.equal(isLocalAddress(parseListenAddress("tcp:127.0.0.2:1")), true);
    assert.equal(isLocalAddress(parseListenAddress("tcp:[::1]:1")), true);
    assert.equal(isLocalAddress(parseListenAddress("unix:/x")), true);
    assert.equal(isLocalAddress(parseListenAddress("tcp:0.0.0.0:1")), false);
    assert.equal(isLocalAddress(parseListenAddress("tcp:192.168.1.2:1")), false);
  });
});
