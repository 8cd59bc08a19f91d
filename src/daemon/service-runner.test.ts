// Service runner: start in order, stop in reverse, a hung stop is aborted at the bound and reported.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { Service, ServiceStatus } from "../core/service.js";
import { silentLogger } from "./logger.js";
import { ServiceRunner } from "./service-runner.js";

function recorder(
  log: string[],
  name: string,
  behaviour: "ok" | "hang" | "fail" | "obeys-abort" = "ok",
): Service {
  let state: ServiceStatus["state"] = "stopped";
  return {
    name,
    async start() {
      log.push(`start ${name}`);
      state = "running";
    },
    stop(signal) {
      log.push(`stop ${name}`);
      state = "stopped";
      if (behaviour === "fail") return Promise.reject(new Error(`${name} broke`));
      if (behaviour === "hang") return new Promise<void>(() => undefined);
      if (behaviour === "obeys-abort") {
        return new Promise<void>((_resolve, reject) =>
          signal!.addEventListener("abort", () => reject(new Error(`${name} aborted`)), { once: true }),
        );
      }
      return Promise.resolve();
    },
    status: () => ({ state }),
  };
}

test("services start in order and stop in reverse; status lists them", async () => {
  const log: string[] = [];
  const runner = new ServiceRunner(silentLogger);
  for (const name of ["a", "b", "c"]) await runner.start(recorder(log, name));
  assert.deepEqual(
    runner.status().map((s) => `${s.name}:${s.state}`),
    ["a:running", "b:running", "c:running"],
  );
  const report = await runner.stop(1000);
  assert.deepEqual(report, { clean: true, problems: [] });
  assert.deepEqual(log, ["start a", "start b", "start c", "stop c", "stop b", "stop a"]);
  assert.deepEqual(runner.status(), []);
});

test("a failing or hung stop is reported, and the others still stop", async () => {
  const log: string[] = [];
  const runner = new ServiceRunner(silentLogger);
  await runner.start(recorder(log, "first"));
  await runner.start(recorder(log, "hangs", "hang"));
  await runner.start(recorder(log, "aborts", "obeys-abort"));
  await runner.start(recorder(log, "fails", "fail"));
  const report = await runner.stop(50);
  assert.equal(report.clean, false);
  assert.deepEqual(
    report.problems.map((p) => `${p.service}: ${p.problem}`),
    [
      "fails: fails broke",
      "aborts: aborts aborted",
      "hangs: did not return after the shutdown bound; left behind",
    ],
  );
  assert.deepEqual(log.slice(4), ["stop fails", "stop aborts", "stop hangs", "stop first"]);
});
