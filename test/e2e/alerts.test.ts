// End-to-end: [alerts] exec and webhook fire exactly once per state change of a served target
// (healthy -> degraded on a pending block, no repeat for a second one, -> healthy once both are
// written), against a real program and a local HTTP receiver; `dmremap alert test` reaches both.
import { test } from "node:test";
import assert from "node:assert/strict";
import { chmod, readFile, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { runCli, startProgram, tempDir, type RunningProgram } from "./harness.js";
import { nbdsh, nbdUnixUri, requireTools, sparseFile } from "./tools.js";

interface Received {
  kind: string;
  target: string;
  value: string;
  previous?: string;
  severity: string;
}

/** A local webhook receiver that records every JSON body. */
async function receiver(): Promise<{ url: string; bodies: Received[]; close(): void }> {
  const bodies: Received[] = [];
  const server = createServer((req, res) => {
    let text = "";
    req.on("data", (c: Buffer) => (text += c.toString()));
    req.on("end", () => {
      bodies.push(JSON.parse(text) as Received);
      res.statusCode = 200;
      res.end("ok");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${port}/alerts`, bodies, close: () => server.close() };
}

async function readBlock(uri: string, block: number): Promise<string> {
  const r = await nbdsh(
    uri,
    `try:\n    h.pread(4096, ${block} * 4096)\n    print("ok")\nexcept nbd.Error as e:\n    print("errno", e.errno)\n`,
  );
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim();
}

async function writeBlock(uri: string, block: number): Promise<void> {
  const r = await nbdsh(uri, `h.pwrite(b'\\x5a' * 4096, ${block} * 4096, nbd.CMD_FLAG_FUA)`);
  assert.equal(r.code, 0, r.stderr);
}

test("alerts: exec and webhook fire once per state change; alert test reaches both", async () => {
  await requireTools("nbdsh");
  const dir = await tempDir();
  const hook = await receiver();
  let program: RunningProgram | undefined;
  try {
    const log = join(dir.path, "alerts.log");
    const script = join(dir.path, "notify.sh");
    await writeFile(
      script,
      `#!/bin/sh\necho "$DMREMAP_ALERT_KIND $DMREMAP_ALERT_TARGET $DMREMAP_ALERT_VALUE was=$DMREMAP_ALERT_PREVIOUS $DMREMAP_ALERT_SEVERITY" >> "${log}"\n`,
    );
    await chmod(script, 0o755);
    await sparseFile(join(dir.path, "main.img"), 16 << 20);
    await sparseFile(join(dir.path, "spare.img"), 2 << 20);
    const socket = join(dir.path, "nbd.sock");
    const config = join(dir.path, "dmremap.toml");
    await writeFile(
      config,
      `[api]
listen = "unix:${join(dir.path, "api.sock")}"
[nbd]
listen = ["unix:${socket}"]
[alerts]
exec = "${script}"
webhook = "${hook.url}"
min_interval = "0s"
[[target]]
name = "a"
main = "${dir.path}/main.img"
spares = ["${dir.path}/spare.img"]
create = true
[target.policy]
read_retries = 0
[target.faults]
enabled = true
[target.faults.dust]
blocks = [7, 9]
`,
    );
    const uri = nbdUnixUri(socket, "a");
    program = await startProgram(["serve", "--config", config]);

    assert.equal(await readBlock(uri, 7), "errno EIO", "a dust block reads EIO and becomes pending");
    assert.equal(await readBlock(uri, 9), "errno EIO", "a second pending block: still degraded");
    await writeBlock(uri, 7);
    await writeBlock(uri, 9);
    assert.equal(await readBlock(uri, 7), "ok");
    // Stopping waits for deliveries in flight, so the counts below are final.
    assert.equal(await program.stop("SIGTERM"), 0);
    program = undefined;

    const lines = (await readFile(log, "utf8")).trim().split("\n");
    assert.deepEqual(lines, ["state a degraded was=healthy warning", "state a healthy was=degraded info"]);
    assert.deepEqual(
      hook.bodies.map((b) => [b.kind, b.target, b.value, b.previous, b.severity]),
      [
        ["state", "a", "degraded", "healthy", "warning"],
        ["state", "a", "healthy", "degraded", "info"],
      ],
    );

    const tested = await runCli(["alert", "test", "--config", config, "--target", "a"]);
    assert.equal(tested.code, 0, tested.stderr);
    assert.match(tested.stdout, /^exec .*notify\.sh: delivered$/m);
    assert.match(tested.stdout, /^webhook http:\/\/127\.0\.0\.1:\d+: delivered$/m);
    assert.equal((await readFile(log, "utf8")).trim().split("\n").pop(), "test a test was= info");
    assert.equal(hook.bodies.at(-1)!.kind, "test");

    hook.close();
    const down = await runCli(["alert", "test", "--config", config]);
    assert.equal(down.code, 1, "a failed delivery is exit status 1");
    assert.match(down.stdout, /webhook .*: FAILED: .*ECONNREFUSED/);
  } finally {
    await program?.stop("SIGKILL");
    hook.close();
    await dir.cleanup();
  }
});
