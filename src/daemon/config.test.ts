// Tests of config loading: the example file, defaults, and that every kind of bad config names key and value.

import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import { loadConfig, parseConfig } from "./config.js";
import { ConfigError } from "./errors.js";
import { DEFAULT_REMAP_POLICY, REMAP_POLICY_SCHEMA } from "../remap/remap-policy.js";
import { policyField } from "./config-schema.js";

const EXAMPLE = fileURLToPath(new URL("../../../examples/dmremap.toml", import.meta.url));
const MINIMAL = `[[target]]\nname = "d0"\nmain = "file:/m.img"\nspares = ["file:/s.img"]\n`;

/** Parse `text` expecting failure; returns the ConfigError. */
function fails(text: string): ConfigError {
  try {
    parseConfig(text, "dmremap.toml");
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    assert.equal(err.code, "ECONFIG");
    return err;
  }
  assert.fail("config was accepted");
}

/** Assert that `text` fails with exactly this one message line. */
function failsWith(text: string, line: string): void {
  assert.equal(fails(text).message, line);
}

describe("loadConfig", () => {
  it("parses the full example file with every value typed", async () => {
    const config = await loadConfig(EXAMPLE);
    assert.equal(config.daemon.logLevel, "info");
    assert.equal(config.daemon.dataDir, "/var/lib/dmremap");
    assert.deepEqual(config.api.listen, { kind: "tcp", host: "127.0.0.1", port: 7878 });
    assert.equal(config.api.tokenFile, "/etc/dmremap/token");
    assert.equal(config.metrics.enabled, true);
    assert.deepEqual(config.nbd.listen, [
      { kind: "unix", path: "/run/dmremap/nbd.sock" },
      { kind: "tcp", host: "127.0.0.1", port: 10809 },
    ]);
    assert.equal(config.nbd.requestDeadlineMs, 25_000);
    assert.equal(config.targets.length, 2);
    const [disk0, lab1] = config.targets;
    assert.deepEqual(disk0!.spares, ["/dev/sdc1", "slice:offset=900G:/dev/sdb"]);
    assert.equal(
      disk0!.main,
      "slice:length=900G:/dev/sdb",
      "the example main ends where the tail spare starts",
    );
    assert.equal(disk0!.faults, undefined);
    assert.deepEqual(disk0!.policy, DEFAULT_REMAP_POLICY, "the example spells out the defaults");
    assert.equal(lab1!.exportName, "lab1-flaky");
    assert.equal(lab1!.create, true);
    assert.equal(lab1!.policy.readRetryBudgetMs, 2000);
    assert.equal(lab1!.policy.writeRetries, 2, "policy defaults fill keys the file leaves out");
    assert.deepEqual(lab1!.faults?.dust, { blocks: [5, 9], heal: false });
    assert.deepEqual(lab1!.faults?.random, { read: 0, write: 0, flush: 0, seed: 1 });
  });

  it("names the file when it cannot be read", async () => {
    const dir = await mkdtemp(join(tmpdir(), "dmremap-config-"));
    try {
      await assert.rejects(loadConfig(join(dir, "missing.toml")), (err: ConfigError) => {
        assert.match(err.message, /missing\.toml: cannot read .*ENOENT/);
        return true;
      });
      await writeFile(join(dir, "bad.toml"), MINIMAL + "block_size = 100\n");
      await assert.rejects(loadConfig(join(dir, "bad.toml")), {
        message: `${join(dir, "bad.toml")}: target[0].block_size: 100 is below the minimum 512`,
      });
    } finally {
      await rm(dir, { recursive: true });
    }
  });
});

describe("parseConfig", () => {
  it("applies every default to a minimal file", () => {
    const config = parseConfig(MINIMAL, "min.toml");
    assert.equal(config.daemon.logLevel, "info");
    assert.equal(config.daemon.dataDir, undefined);
    assert.deepEqual(config.api.listen, { kind: "tcp", host: "127.0.0.1", port: 7878 });
    assert.equal(config.api.tokenFile, undefined);
    assert.deepEqual(config.nbd.listen, [{ kind: "unix", path: "/run/dmremap/nbd.sock" }]);
    assert.equal(config.nbd.allowInsecure, false);
    assert.equal(config.nbd.maxInFlight, 64);
    const t = config.targets[0]!;
    assert.equal(t.exportName, "d0", "export defaults to name");
    assert.equal(t.blockSize, 4096);
    assert.equal(t.create, false);
    assert.equal(t.policy.readRetries, 3);
    assert.equal(t.faults, undefined);
  });

  it("accepts durations as text or integer milliseconds", () => {
    const config = parseConfig(
      `[nbd]\nrequest_deadline = 1500\n` + MINIMAL + `[target.policy]\nread_retry_budget = "1.5s"\n`,
      "x",
    );
    assert.equal(config.nbd.requestDeadlineMs, 1500);
    assert.equal(config.targets[0]!.policy.readRetryBudgetMs, 1500);
  });

  it("keeps a faults table only when enabled", () => {
    const off = MINIMAL + `[target.faults.random]\nseed = 3\n`;
    assert.equal(parseConfig(off, "x").targets[0]!.faults, undefined);
    const faults = parseConfig(
      MINIMAL + `[target.faults]\nenabled = true\n[target.faults.delay]\nread = "20ms"\n`,
      "x",
    ).targets[0]!.faults;
    assert.deepEqual(faults?.delay, { read: 20, write: 0 });
    assert.equal(faults?.dust, undefined);
  });

  it("checks flakey modes one by one and against each other", () => {
    const faults = (modes: string) =>
      MINIMAL +
      `[target.faults]\nenabled = true\n[target.faults.flakey]\nup = "1s"\ndown = "1s"\nmodes = ${modes}\n`;
    const flakey = parseConfig(faults('["drop-writes"]'), "x").targets[0]!.faults?.flakey;
    assert.deepEqual((flakey as { modes: string[] }).modes, ["drop-writes"]);
    failsWith(
      faults('["error-reads", "eat-data"]'),
      'dmremap.toml: target[0].faults.flakey.modes[1]: "eat-data" is not one of error-reads, error-writes, drop-writes, corrupt-byte',
    );
    failsWith(faults("[]"), "dmremap.toml: target[0].faults.flakey.modes: flakey needs at least one mode");
    failsWith(
      faults('["error-writes", "drop-writes"]'),
      'dmremap.toml: target[0].faults.flakey.modes: flakey modes "error-writes" and "drop-writes" exclude each other',
    );
  });

  it("reports a value above the maximum with file, key path and value", () => {
    const text =
      MINIMAL + `[[target]]\nname = "d1"\nmain = "m"\nspares = ["s"]\n[target.policy]\nread_retries = 99\n`;
    failsWith(text, "dmremap.toml: target[1].policy.read_retries: 99 is above the maximum 20");
  });

  it("reports wrong types", () => {
    failsWith(
      MINIMAL + `block_size = "4k"\n`,
      'dmremap.toml: target[0].block_size: expected an integer, got "4k"',
    );
    failsWith(
      MINIMAL + `block_size = 4096.5\n`,
      "dmremap.toml: target[0].block_size: expected an integer, got 4096.5",
    );
    failsWith(
      MINIMAL + `create = "yes"\n`,
      'dmremap.toml: target[0].create: expected a boolean (true or false), got "yes"',
    );
    failsWith(
      `[metrics]\nenabled = 1\n` + MINIMAL,
      "dmremap.toml: metrics.enabled: expected a boolean (true or false), got 1",
    );
    failsWith(`api = 3\n` + MINIMAL, "dmremap.toml: api: expected a table, got 3");
    failsWith(
      MINIMAL.replace('spares = ["file:/s.img"]', 'spares = "file:/s.img"'),
      'dmremap.toml: target[0].spares: expected a list, got "file:/s.img"',
    );
    failsWith(
      MINIMAL + `[target.faults.dust]\nblocks = [1, -2]\n`,
      "dmremap.toml: target[0].faults.dust.blocks[1]: -2 is below the minimum 0",
    );
  });

  it("reports out-of-range, enum and pattern violations", () => {
    failsWith(
      MINIMAL + `block_size = 3072\n`,
      "dmremap.toml: target[0].block_size: 3072 is not a power of two",
    );
    failsWith(
      MINIMAL + `[target.faults.random]\nread = 1.5\n`,
      "dmremap.toml: target[0].faults.random.read: 1.5 is above the maximum 1",
    );
    failsWith(
      `[daemon]\nlog_level = "verbose"\n` + MINIMAL,
      'dmremap.toml: daemon.log_level: "verbose" is not one of debug, info, warn, error',
    );
    failsWith(
      MINIMAL.replace('"d0"', '"my disk"'),
      `dmremap.toml: target[0].name: "my disk" may only contain letters, digits, '_', '.', '-'`,
    );
    failsWith(
      `[daemon]\ndata_dir = "var/lib"\n` + MINIMAL,
      'dmremap.toml: daemon.data_dir: "var/lib" is not an absolute path',
    );
    failsWith(
      `[api]\nlisten = "127.0.0.1:7878"\n` + MINIMAL,
      'dmremap.toml: api.listen: listen address "127.0.0.1:7878" must start with "unix:" or "tcp:"',
    );
    failsWith(
      `[api]\nlisten = "tcp:127.0.0.1:99999"\n` + MINIMAL,
      'dmremap.toml: api.listen: listen address "tcp:127.0.0.1:99999": port 99999 is not in 0..65535',
    );
  });

  it("reports bad durations", () => {
    failsWith(
      MINIMAL + `[target.policy]\nread_retry_budget = "5 parsecs"\n`,
      'dmremap.toml: target[0].policy.read_retry_budget: "5 parsecs" is not a duration (expected e.g. 200ms, 5s, 2m)',
    );
    failsWith(
      MINIMAL + `[target.policy]\nread_retry_budget = "30s"\n`,
      'dmremap.toml: target[0].policy.read_retry_budget: "30s" is above the maximum 25s',
    );
    failsWith(
      `[nbd]\nrequest_deadline = true\n` + MINIMAL,
      'dmremap.toml: nbd.request_deadline: expected a duration such as "5s", got true',
    );
  });

  it("reports unknown keys, with a suggestion when one is close", () => {
    failsWith(
      MINIMAL + `[target.policy]\nread_retrys = 1\n`,
      'dmremap.toml: target[0].policy.read_retrys: unknown key (did you mean "read_retries"?)',
    );
    failsWith(`[nbdd]\n` + MINIMAL, 'dmremap.toml: nbdd: unknown key (did you mean "nbd"?)');
    assert.match(
      fails(MINIMAL + `colour = "red"\n`).message,
      /^dmremap\.toml: target\[0\]\.colour: unknown key \(known keys: name, export, main, spares, block_size, create, policy, faults[,)]/,
    );
  });

  it("reports missing required keys and a missing target", () => {
    failsWith(
      `[[target]]\nname = "x"\nspares = ["s"]\n`,
      "dmremap.toml: target[0].main: required key is missing",
    );
    failsWith(`[daemon]\nlog_level = "info"\n`, "dmremap.toml: target: at least 1 [[target]] table required");
  });

  it("reports duplicate target names and export names", () => {
    const twice = MINIMAL + MINIMAL.replace('"d0"', '"d1"\nexport = "d0"') + MINIMAL;
    const err = fails(twice);
    assert.deepEqual(err.issues, [
      { keyPath: "target[1].export", message: 'export name "d0" is already used by target[0]' },
      { keyPath: "target[2].name", message: '"d0" is already used by target[0]' },
      { keyPath: "target[2].export", message: 'export name "d0" is already used by target[0]' },
    ]);
  });

  it("checks keys against each other: TLS pairs, insecure TCP, retry budget vs deadline", () => {
    failsWith(
      `[nbd]\ntls_cert = "/c.pem"\n` + MINIMAL,
      "dmremap.toml: nbd.tls_key: required when nbd.tls_cert is set",
    );
    failsWith(
      `[nbd]\nlisten = ["tcp:0.0.0.0:10809"]\n` + MINIMAL,
      'dmremap.toml: nbd.listen[0]: "tcp:0.0.0.0:10809" is reachable from other machines without TLS (set tls_cert/tls_key or tls_psk_file, or allow_insecure = true)',
    );
    assert.equal(
      parseConfig(`[nbd]\nlisten = ["tcp:0.0.0.0:10809"]\nallow_insecure = true\n` + MINIMAL, "x").nbd
        .allowInsecure,
      true,
    );
    assert.equal(
      parseConfig(`[nbd]\nlisten = ["tcp:[::1]:10809"]\n` + MINIMAL, "x").nbd.listen[0]!.kind,
      "tcp",
    );
    failsWith(
      `[nbd]\nrequest_deadline = "2s"\n` + MINIMAL,
      "dmremap.toml: target[0].policy.read_retry_budget: 5s is above nbd.request_deadline 2s",
    );
  });

  it("reports every problem at once, one line each", () => {
    const err = fails(`[daemon]\nlog_level = 1\nfoo = 2\n[[target]]\nname = "x"\n`);
    assert.deepEqual(
      err.issues.map((i) => i.keyPath),
      ["daemon.foo", "daemon.log_level", "target[0].main", "target[0].spares"],
    );
    assert.equal(err.message.split("\n").length, 4);
  });

  it("reports TOML syntax errors with line and column", () => {
    failsWith(`[daemon]\nlog_level = \n`, "dmremap.toml: line 2, column 13: invalid value");
    assert.match(
      fails(`[[target]]\nname = "a"\nname = "b"\n`).message,
      /^dmremap\.toml: line 3, column \d+: /,
    );
  });
});

describe("settings defined once", () => {
  const base = `[[target]]\nname = "t"\nmain = "/m"\nspares = ["/s"]\n`;

  it("every remap-policy knob is a config key with the remap layer's default", () => {
    const config = parseConfig(base, "x");
    assert.deepEqual(config.targets[0]!.policy, DEFAULT_REMAP_POLICY);
    for (const field of REMAP_POLICY_SCHEMA) {
      const key = policyField(field).key;
      assert.match(key, /^[a-z_]+$/, `${field.key} -> ${key}`);
    }
  });

  it("migrate_after_failed_reads is settable and bounded by the remap schema", () => {
    const ok = parseConfig(`${base}[target.policy]\nmigrate_after_failed_reads = 3\n`, "x");
    assert.equal(ok.targets[0]!.policy.migrateAfterFailedReads, 3);
    assert.throws(
      () => parseConfig(`${base}[target.policy]\nmigrate_after_failed_reads = 0\n`, "x"),
      /target\[0\]\.policy\.migrate_after_failed_reads: 0 is below the minimum 1/,
    );
  });

  it("spare_allocation is an enum of the remap schema; a bad value names key and values", () => {
    const ok = parseConfig(`${base}[target.policy]\nspare_allocation = "least-used"\n`, "x");
    assert.equal(ok.targets[0]!.policy.spareAllocation, "least-used");
    assert.equal(parseConfig(base, "x").targets[0]!.policy.spareAllocation, "fill-first");
    failsWith(
      MINIMAL + `[target.policy]\nspare_allocation = "bogus"\n`,
      'dmremap.toml: target[0].policy.spare_allocation: "bogus" is not one of fill-first, round-robin, least-used',
    );
  });

  it("shutdown_timeout is a bounded duration", () => {
    assert.equal(parseConfig(base, "x").daemon.shutdownTimeoutMs, 30_000);
    assert.equal(
      parseConfig(`[daemon]\nshutdown_timeout = "3s"\n${base}`, "x").daemon.shutdownTimeoutMs,
      3000,
    );
  });
});

describe("the API listener", () => {
  const target = `[[target]]\nname = "t"\nmain = "/m"\nspares = ["/s"]\n`;

  it("refuses a non-loopback TCP address without allow_insecure, naming it", () => {
    assert.throws(
      () => parseConfig(`[api]\nlisten = "tcp:0.0.0.0:7878"\n${target}`, "x"),
      (err: unknown) =>
        err instanceof ConfigError &&
        /x: api\.listen: "tcp:0\.0\.0\.0:7878" is reachable from other machines/.test(err.message) &&
        /allow_insecure/.test(err.message),
    );
    const allowed = parseConfig(`[api]\nlisten = "tcp:0.0.0.0:7878"\nallow_insecure = true\n${target}`, "x");
    assert.equal(allowed.api.allowInsecure, true);
    assert.equal(parseConfig(`[api]\nlisten = "tcp:[::1]:7878"\n${target}`, "x").api.allowInsecure, false);
  });
});
