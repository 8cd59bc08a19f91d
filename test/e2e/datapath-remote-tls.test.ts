// End-to-end: a remote main over TLS. nbdkit requires TLS with an X.509 certificate; dmremap's NBD
// client reaches it through an nbds+unix:// URI (tls-certificates=DIR, the peer verified against
// ca-cert.pem) and negotiates structured replies; data written through dmremap reads back.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { datapathTarget } from "./datapath-support.js";
import { runCli, startProgram, tempDir, type RunningProgram } from "./harness.js";
import { api, nbdsh, requireTools, selfSignedCertificate, startNbdkit } from "./tools.js";

test("a TLS-only remote main (nbdkit, certificates) serves through nbds+unix:// with structured replies", async () => {
  await requireTools("nbdkit", "nbdsh", "openssl");
  const dir = await tempDir();
  let program: RunningProgram | undefined;
  const certs = dir.path;
  await selfSignedCertificate(certs);
  const kitSocket = join(dir.path, "kit.sock");
  const kit = await startNbdkit(kitSocket, ["--tls=require", `--tls-certificates=${certs}`, "memory", "16M"]);
  try {
    const plain = await runCli(["info", `nbd+unix:///?socket=${kitSocket}`]);
    assert.notEqual(plain.code, 0, "plaintext is refused by the TLS-only server");
    const mainUri = `nbds+unix:///?socket=${kitSocket}&tls-certificates=${certs}`;
    const { config, uri, base } = await datapathTarget(dir.path, {
      name: "s",
      main: mainUri,
      spareBytes: 4 << 20,
    });
    program = await startProgram(["serve", "--config", config]);
    const rw = await nbdsh(
      uri,
      `data = bytes((i * 7) % 251 for i in range(65536))
h.pwrite(data, 1 << 20)
h.flush()
print("same" if h.pread(65536, 1 << 20) == data else "differs")`,
    );
    assert.equal(rw.code, 0, rw.stderr);
    assert.equal(rw.stdout.trim(), "same");
    const status = (await api(base, "GET", "/v1/targets/s")).json as {
      main: { tls?: boolean; structuredReplies?: boolean };
    };
    assert.equal(status.main.tls, true, JSON.stringify(status.main));
    assert.equal(status.main.structuredReplies, true);
    assert.equal(await program.stop("SIGTERM"), 0);
    program = undefined;
  } finally {
    await program?.stop("SIGKILL");
    await kit.stop("SIGTERM");
    await dir.cleanup();
  }
});
