import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { SmartError } from "./errors.js";
import { judgeSmart, parseSmartctl, type SmartSample } from "./smart.js";

const FIXTURES = new URL("../../../src/health/fixtures/", import.meta.url);

function fixture(name: string): string {
  return readFileSync(new URL(`smartctl-${name}.json`, FIXTURES), "utf8");
}

function sample(name: string, at = 0, patch?: (json: Record<string, unknown>) => void): SmartSample {
  const json = JSON.parse(fixture(name)) as Record<string, unknown>;
  patch?.(json);
  return parseSmartctl(JSON.stringify(json), "/dev/x", at);
}

test("ATA HDD, healthy: the six attributes are read, nothing fires against itself", () => {
  const s = sample("ata-hdd-healthy");
  assert.equal(s.protocol, "ATA");
  assert.equal(s.serial, "WD-WCC7K1ABCDEF");
  assert.deepEqual(s.ata, { reallocated: 0, reallocEvents: 0, pending: 0, offlineUncorrectable: 0 });
  assert.deepEqual(judgeSmart(s, s), { critical: [], degrading: [], watch: [] });
});

test("ATA HDD, failing: exit status 72 is not fatal, 188's packed raw is unpacked, FAILED is critical", () => {
  const s = sample("ata-hdd-failing");
  assert.equal(s.exitStatus, 72);
  assert.equal(s.passed, false);
  assert.equal(s.ata?.commandTimeout, 3, "low 16 bits of the packed 188 raw value");
  assert.equal(s.ata?.pending, 312);
  const verdict = judgeSmart(s, s);
  assert.deepEqual(verdict.critical, ["SMART overall-health self-assessment: FAILED"]);
  assert.deepEqual(verdict.degrading, [], "a static count never alarms by itself: deltas only");
});

test("deltas from the per-device baseline: small growth is watch, large growth is degrading", () => {
  const baseline = sample("ata-hdd-healthy", 0);
  const later = sample("ata-hdd-healthy", 1000, (json) => {
    const table = (json.ata_smart_attributes as { table: { id: number; raw: { value: number } }[] }).table;
    table.find((r) => r.id === 5)!.raw.value = 2;
    table.find((r) => r.id === 197)!.raw.value = 24;
  });
  const verdict = judgeSmart(later, baseline);
  assert.deepEqual(verdict.watch, ["ATA 5 Reallocated_Sector_Ct grew by 2 since the baseline (0 -> 2)"]);
  assert.deepEqual(verdict.degrading, [
    "ATA 197 Current_Pending_Sector grew by 24 since the baseline (0 -> 24)",
  ]);
});

test("ATA SSD, healthy", () => {
  const s = sample("ata-ssd-healthy");
  assert.deepEqual(s.ata, { reallocated: 0, reportedUncorrect: 0, reallocEvents: 0 });
  assert.equal(s.passed, true);
});

test("NVMe healthy and failing: spare below threshold, critical warning, wear, media errors", () => {
  const ok = sample("nvme-healthy");
  assert.deepEqual(ok.nvme, {
    availableSpare: 100,
    availableSpareThreshold: 10,
    mediaErrors: 0,
    criticalWarning: 0,
    percentageUsed: 2,
  });
  assert.deepEqual(judgeSmart(ok, ok).critical, []);
  const bad = sample("nvme-failing");
  const verdict = judgeSmart(bad, ok);
  assert.deepEqual(verdict.critical, [
    "SMART overall-health self-assessment: FAILED",
    "NVMe critical_warning = 0x05",
    "NVMe available_spare 3 % < threshold 10 %",
    "NVMe percentage_used 104 %",
  ]);
  assert.deepEqual(verdict.degrading, ["NVMe media_errors grew by 1532 since the baseline (0 -> 1532)"]);
});

test("exit status bits 0-1 are fatal and the message names the device and smartctl's reason", () => {
  assert.throws(
    () => parseSmartctl(fixture("open-failed"), "/dev/sdz", 0),
    (err: unknown) =>
      err instanceof SmartError &&
      err.code === "ESMART" &&
      /smartctl \/dev\/sdz: exit status 2: Smartctl open device: \/dev\/sdz failed: No such device/.test(
        err.message,
      ),
  );
  assert.throws(() => parseSmartctl("not json", "/dev/sdq", 0), /smartctl \/dev\/sdq: output is not JSON/);
});
