// STARTTLS with X.509 certificates and with pre-shared keys, checked with nbdinfo (libnbd/GnuTLS);
// plaintext and wrong keys are refused. Also plain TCP on loopback with nbd://HOST:PORT/EXPORT.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MemoryDevice } from "../../src/block/memory-device.js";
import { NbdServer } from "../../src/nbd/server.js";
import type { NbdTlsOptions } from "../../src/nbd/tls.js";
import { run } from "./nbd-support.js";
import { selfSignedCertificate } from "./tools.js";

async function withServer(
  tls: NbdTlsOptions | undefined,
  listen: "unix" | "tcp",
  body: (uriTail: { path: string; port: number }) => Promise<void>,
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "nbd-tls-srv-"));
  const path = join(dir, "nbd.sock");
  const device = new MemoryDevice({ sizeBytes: 16 << 20 });
  const server = new NbdServer({
    exports: [{ name: "disk", device }],
    listen: [listen === "unix" ? { kind: "unix", path } : { kind: "tcp", host: "127.0.0.1", port: 0 }],
    ...(tls ? { tls } : {}),
  });
  await server.start();
  try {
    const port = listen === "tcp" ? Number(server.addresses()[0]!.split(":").at(-1)) : 0;
    await body({ path, port });
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

test("STARTTLS with a certificate; plaintext GO is refused", async () => {
  const dir = mkdtempSync(join(tmpdir(), "nbd-tls-"));
  try {
    const { key, cert } = await selfSignedCertificate(dir);
    await withServer({ certFile: cert, keyFile: key }, "unix", async ({ path }) => {
      const info = await run(
        "nbdinfo",
        ["--json", `nbds+unix:///disk?socket=${path}&tls-certificates=${dir}&tls-verify-peer=false`],
        {
          timeoutMs: 20_000,
        },
      );
      const parsed = JSON.parse(info.stdout) as { TLS: boolean; exports: { "export-size": number }[] };
      assert.equal(parsed.TLS, true);
      assert.equal(parsed.exports[0]!["export-size"], 16 << 20);
      const uri = `nbds+unix:///disk?socket=${path}&tls-certificates=${dir}&tls-verify-peer=false`;
      const rw = `h.set_uri_allow_local_file(True)
h.connect_uri(${JSON.stringify(uri)})
h.pwrite(b"z" * 4096, 0)
assert h.pread(4096, 0) == b"z" * 4096
print("ok")`;
      const copy = await run("nbdsh", ["-c", rw], { timeoutMs: 20_000 });
      assert.match(copy.stdout, /ok/);
      const plain = await run("nbdinfo", [`nbd+unix:///disk?socket=${path}`], {
        allowFailure: true,
        timeoutMs: 20_000,
      });
      assert.notEqual(plain.code, 0, "plaintext must be refused");
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("STARTTLS with pre-shared keys; a wrong key is refused", async () => {
  const dir = mkdtempSync(join(tmpdir(), "nbd-psk-"));
  try {
    const keys = join(dir, "keys.psk");
    writeFileSync(keys, `alice:${randomBytes(32).toString("hex")}\n`);
    const wrong = join(dir, "wrong.psk");
    writeFileSync(wrong, `alice:${randomBytes(32).toString("hex")}\n`);
    await withServer({ pskFile: keys }, "unix", async ({ path }) => {
      const ok = await run("nbdinfo", [`nbds+unix://alice@/disk?socket=${path}&tls-psk-file=${keys}`], {
        timeoutMs: 20_000,
      });
      assert.match(ok.stdout, /with TLS/);
      const bad = await run("nbdinfo", [`nbds+unix://alice@/disk?socket=${path}&tls-psk-file=${wrong}`], {
        allowFailure: true,
        timeoutMs: 20_000,
      });
      assert.notEqual(bad.code, 0, "a wrong PSK must be refused");
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("TCP on loopback without TLS: nbd://127.0.0.1:PORT/disk", async () => {
  await withServer(undefined, "tcp", async ({ port }) => {
    const info = await run("nbdinfo", ["--json", `nbd://127.0.0.1:${port}/disk`], { timeoutMs: 20_000 });
    assert.equal(
      (JSON.parse(info.stdout) as { exports: { "export-size": number }[] }).exports[0]!["export-size"],
      16 << 20,
    );
  });
});
