// Alerts: one alert per change (repeats dropped), rate limiting with coalescing on an injected clock,
// the exec program's environment and stdin, the webhook's JSON body, failures counted, config keys.
import { test } from "node:test";
import assert from "node:assert/strict";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RemapEvents } from "../remap/remap-events.js";
import {
  AlertService,
  execSink,
  webhookSink,
  type Alert,
  type AlertSink,
  type AlertsConfig,
  type AlertTimers,
} from "./alerts.js";
import { parseConfig } from "./config.js";
import { AlertDeliveryError, ConfigError } from "./errors.js";
import { createLogger } from "./logger.js";

const logger = createLogger({ level: "error", stream: { write: () => true } });

/** A sink that records what it was given. */
function recordingSink(): AlertSink & { alerts: Alert[] } {
  const alerts: Alert[] = [];
  return { name: "recorder", alerts, deliver: async (a) => void alerts.push(a) };
}

/** A clock and timers the test moves by hand. */
function manualTime() {
  let now = 1_000_000;
  const pending: { at: number; fn: () => void }[] = [];
  const timers: AlertTimers = {
    set(ms, fn) {
      const entry = { at: now + ms, fn };
      pending.push(entry);
      return () => pending.splice(pending.indexOf(entry), 1);
    },
  };
  return {
    clock: { now: () => now },
    timers,
    advance(ms: number) {
      now += ms;
      for (const due of pending.filter((p) => p.at <= now)) {
        pending.splice(pending.indexOf(due), 1);
        due.fn();
      }
    },
  };
}

/** A target whose events the test fires. */
function fakeTarget(name: string, initial: string) {
  let listener: RemapEvents = {};
  return {
    name,
    state: () => initial,
    subscribe(l: RemapEvents) {
      listener = l;
      return () => (listener = {});
    },
    fire: () => listener,
  };
}

const config = (minIntervalMs: number): AlertsConfig => ({ minIntervalMs, timeoutMs: 5000 });

test("one alert per state change: the start state is the baseline and repeats are dropped", async () => {
  const sink = recordingSink();
  const target = fakeTarget("disk0", "healthy");
  const service = new AlertService({
    config: config(0),
    logger,
    sinks: [sink],
    targets: () => [target],
    host: "h1",
  });
  await service.start();
  target.fire().onStateChange?.({ state: "healthy", reason: "" });
  target.fire().onStateChange?.({ state: "degraded", reason: "1 pending blocks" });
  target.fire().onStateChange?.({ state: "degraded", reason: "2 pending blocks" });
  target.fire().onStateChange?.({ state: "healthy", reason: "" });
  target.fire().onSpareAlert?.({ freeBlocks: 1, totalBlocks: 10 });
  await service.stop();
  assert.deepEqual(
    sink.alerts.map((a) => [a.kind, a.value, a.previous, a.severity]),
    [
      ["state", "degraded", "healthy", "warning"],
      ["state", "healthy", "degraded", "info"],
      ["spare", "nearly-exhausted", undefined, "warning"],
    ],
  );
  assert.equal(sink.alerts[0]!.subject, "dmremap on h1: target disk0 state is degraded (was healthy)");
  assert.equal(sink.alerts[0]!.reason, "1 pending blocks");
  target.fire().onStateChange?.({ state: "read-only", reason: "x" });
  assert.equal(sink.alerts.length, 3, "after stop the service is unsubscribed");
});

test("rate limit: changes inside min_interval are coalesced into one alert when it ends", async () => {
  const sink = recordingSink();
  const time = manualTime();
  const service = new AlertService({ config: config(60_000), logger, sinks: [sink], ...time });
  await service.start();
  service.notify({ target: "d", kind: "state", value: "degraded", reason: "a" });
  time.advance(10_000);
  service.notify({ target: "d", kind: "state", value: "healthy", reason: "" });
  time.advance(10_000);
  service.notify({ target: "d", kind: "state", value: "read-only", reason: "metadata write failed" });
  service.notify({ target: "other", kind: "state", value: "degraded", reason: "b" });
  assert.deepEqual(
    sink.alerts.map((a) => `${a.target}:${a.value}`),
    ["d:degraded", "other:degraded"],
    "the limit is per target",
  );
  time.advance(39_999);
  assert.equal(sink.alerts.length, 2);
  time.advance(1);
  assert.equal(sink.alerts.length, 3);
  const coalesced = sink.alerts[2]!;
  assert.equal(coalesced.value, "read-only");
  assert.equal(coalesced.previous, "degraded", "previous is what the person was last told");
  assert.equal(coalesced.suppressed, 1);
  assert.equal(coalesced.severity, "critical");
  assert.match(coalesced.subject, /1 earlier change\(s\) coalesced/);
  time.advance(60_000);
  service.notify({ target: "d", kind: "state", value: "healthy", reason: "" });
  assert.equal(sink.alerts.length, 4, "after a quiet interval the next change goes out at once");
  await service.stop();
  assert.deepEqual(service.status().details, {
    sinks: ["recorder"],
    sent: 4,
    failed: 0,
    coalesced: 1,
  });
});

test("exec: the program gets DMREMAP_ALERT_* variables and the alert as JSON on stdin; a failure is counted", async () => {
  const dir = await mkdtemp(join(tmpdir(), "dmremap-alert-"));
  try {
    const script = join(dir, "notify.sh");
    const out = join(dir, "out");
    await writeFile(
      script,
      `#!/bin/sh\nenv | grep ^DMREMAP_ALERT_ | sort > "${out}.env"\ncat > "${out}.json"\n`,
    );
    await chmod(script, 0o755);
    const service = new AlertService({
      config: { ...config(0), exec: script },
      logger,
      host: "h2",
      clock: { now: () => Date.UTC(2026, 0, 2, 3, 4, 5) },
    });
    await service.start();
    service.notify({ target: "disk0", kind: "state", value: "degraded", reason: "2 pending blocks" });
    await service.stop();
    const env = Object.fromEntries(
      (await readFile(`${out}.env`, "utf8"))
        .trim()
        .split("\n")
        .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
    );
    assert.deepEqual(env, {
      DMREMAP_ALERT_HOST: "h2",
      DMREMAP_ALERT_KIND: "state",
      DMREMAP_ALERT_PREVIOUS: "",
      DMREMAP_ALERT_REASON: "2 pending blocks",
      DMREMAP_ALERT_SEVERITY: "warning",
      DMREMAP_ALERT_SUBJECT: "dmremap on h2: target disk0 state is degraded",
      DMREMAP_ALERT_SUPPRESSED: "0",
      DMREMAP_ALERT_TARGET: "disk0",
      DMREMAP_ALERT_TIME: "2026-01-02T03:04:05.000Z",
      DMREMAP_ALERT_VALUE: "degraded",
    });
    const json = JSON.parse(await readFile(`${out}.json`, "utf8")) as Alert;
    assert.equal(json.target, "disk0");
    assert.equal(json.value, "degraded");

    const failing = join(dir, "fail.sh");
    await writeFile(failing, "#!/bin/sh\necho 'mail relay down' >&2\nexit 3\n");
    await chmod(failing, 0o755);
    const alert = json;
    await assert.rejects(
      execSink(failing, 5000).deliver(alert, new AbortController().signal),
      (err: unknown) => err instanceof AlertDeliveryError && /exited 3: mail relay down/.test(err.message),
    );
    const missing = new AlertService({ config: { ...config(0), exec: join(dir, "nope") }, logger });
    await missing.start();
    missing.notify({ target: "t", kind: "state", value: "degraded", reason: "" });
    await missing.stop();
    assert.equal(missing.status().details!.failed, 1);
    assert.match(String(missing.status().details!.lastError), /nope.*ENOENT/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("webhook: a JSON POST per alert; a non-2xx answer is a delivery error", async () => {
  const bodies: unknown[] = [];
  let status = 204;
  const server = createServer((req, res) => {
    let text = "";
    req.on("data", (c: Buffer) => (text += c.toString()));
    req.on("end", () => {
      bodies.push({ method: req.method, type: req.headers["content-type"], body: JSON.parse(text) });
      res.statusCode = status;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  try {
    const service = new AlertService({ config: { ...config(0), webhook: url }, logger, host: "h3" });
    const results = await service.test("disk9");
    assert.deepEqual(results, [
      { sink: `webhook http://127.0.0.1:${(server.address() as AddressInfo).port}` },
    ]);
    assert.equal(bodies.length, 1);
    const first = bodies[0] as { method: string; type: string; body: Alert };
    assert.equal(first.method, "POST");
    assert.equal(first.type, "application/json");
    assert.equal(first.body.kind, "test");
    assert.equal(first.body.target, "disk9");
    assert.equal(first.body.subject, "dmremap on h3: test alert");
    status = 500;
    await assert.rejects(
      webhookSink(url, 5000).deliver(first.body, new AbortController().signal),
      (err: unknown) =>
        err instanceof AlertDeliveryError && err.code === "EALERT" && /HTTP 500/.test(err.message),
    );
  } finally {
    server.close();
  }
});

test("config: [alerts] is optional, has defaults, and a bad webhook URL names the key", () => {
  const base = `[[target]]\nname = "t"\nmain = "mem:1M"\nspares = ["mem:1M"]\n`;
  assert.equal(parseConfig(base, "a.toml").alerts, undefined);
  const alerts = parseConfig(`${base}[alerts]\nexec = "/usr/local/bin/page-me"\n`, "a.toml").alerts;
  assert.deepEqual(alerts, { exec: "/usr/local/bin/page-me", minIntervalMs: 60_000, timeoutMs: 30_000 });
  assert.throws(
    () => parseConfig(`${base}[alerts]\nwebhook = "ftp://x"\n`, "a.toml"),
    (err: unknown) => err instanceof ConfigError && /alerts\.webhook/.test(err.message),
  );
});
