// Tests of the HTTP control API against in-memory fake targets: every endpoint, paging, problem details,
// bearer-token enforcement on TCP, Unix-socket serving and request body validation.

import assert from "node:assert/strict";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { FakeControlTarget } from "./fake-control-target.js";
import { type ApiServer, createApiServer } from "./http-api.js";
import type { ListenAddress } from "./listen-address.js";
import { createLogger } from "./logger.js";
import type { MetricsAdapter } from "./metrics-adapter.js";
import { createMetrics } from "./metrics.js";

const TOKEN = "s3cret-token";

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** One HTTP request over TCP or a Unix socket. */
function call(
  address: ListenAddress,
  method: string,
  path: string,
  options: { body?: unknown; raw?: string; token?: string; headers?: Record<string, string> } = {},
): Promise<Reply> {
  const payload = options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  const headers: Record<string, string> = { ...options.headers };
  if (payload !== undefined && !headers["content-type"]) headers["content-type"] = "application/json";
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  const where =
    address.kind === "unix" ? { socketPath: address.path } : { host: address.host, port: address.port };
  return new Promise((resolve, reject) => {
    const req = httpRequest({ ...where, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        const type = String(res.headers["content-type"] ?? "");
        resolve({
          status: res.statusCode!,
          headers: res.headers,
          text,
          json: type.includes("json") ? JSON.parse(text) : undefined,
        });
      });
    });
    req.on("error", reject);
    req.end(payload);
  });
}

/** Assert an RFC 9457 problem response. */
function assertProblem(reply: Reply, status: number, detail: RegExp, path?: string): void {
  assert.equal(reply.status, status, reply.text);
  assert.equal(reply.headers["content-type"], "application/problem+json");
  assert.equal(reply.json.status, status);
  assert.match(reply.json.type, /^https:\/\/dmremap\.dev\/problems\/[a-z]+$/);
  assert.equal(typeof reply.json.title, "string");
  assert.match(reply.json.detail, detail);
  if (path) assert.equal(reply.json.instance, path);
  assert.equal(typeof reply.json.code, "string");
}

describe("HTTP API on TCP", () => {
  const disk0 = new FakeControlTarget({ name: "disk0", blocks: 1000, spareSlots: 400 });
  const lab = new FakeControlTarget({ name: "lab", exportName: "lab-export", faults: true, spareSlots: 2 });
  const logLines: string[] = [];
  const metrics: MetricsAdapter = {
    contentType: "text/plain; version=0.0.4; charset=utf-8",
    render: async () => "dmremap_targets 2\n",
    observeRequests: () => {},
  };
  let server: ApiServer;
  let addr: ListenAddress;

  before(async () => {
    server = createApiServer({
      targets: () => [disk0, lab],
      token: TOKEN,
      metrics,
      logger: createLogger({ stream: { write: (l: string) => logLines.push(l) } }),
    });
    addr = await server.start("tcp:127.0.0.1:0");
    assert.equal(addr.kind, "tcp");
  });
  after(() => server.stop());

  it("GET /healthz and /metrics", async () => {
    const health = await call(addr, "GET", "/healthz");
    assert.equal(health.status, 200);
    assert.deepEqual(health.json, { status: "ok", targets: { disk0: "healthy", lab: "healthy" } });
    const m = await call(addr, "GET", "/metrics");
    assert.equal(m.status, 200);
    assert.equal(m.headers["content-type"], metrics.contentType);
    assert.equal(m.text, "dmremap_targets 2\n");
  });

  it("GET /v1/targets lists summaries; /v1/targets/:name gives the status", async () => {
    const list = await call(addr, "GET", "/v1/targets");
    assert.equal(list.status, 200);
    assert.deepEqual(
      list.json.map((t: { name: string; exportName: string; state: string }) => [
        t.name,
        t.exportName,
        t.state,
      ]),
      [
        ["disk0", "disk0", "healthy"],
        ["lab", "lab-export", "healthy"],
      ],
    );
    assert.equal(list.json[0].sizeBytes, 1000 * 4096);
    assert.equal(list.json[0].spare.totalBlocks, 400);
    const one = await call(addr, "GET", "/v1/targets/disk0/");
    assert.equal(one.status, 200);
    assert.deepEqual(one.json, JSON.parse(JSON.stringify(disk0.status())));
    assertProblem(
      await call(addr, "GET", "/v1/targets/nope"),
      404,
      /no target named "nope"/,
      "/v1/targets/nope",
    );
  });

  it("pages through the remap table with cursor and limit", async () => {
    for (let b = 0; b < 250; b++) await disk0.remapBlock(b * 3);
    const first = await call(addr, "GET", "/v1/targets/disk0/remaps");
    assert.equal(first.json.entries.length, 100, "default limit is 100");
    assert.equal(first.json.total, 250);
    const seen: number[] = [];
    let cursor: number | undefined;
    do {
      const page = await call(
        addr,
        "GET",
        `/v1/targets/disk0/remaps?limit=64${cursor === undefined ? "" : `&cursor=${cursor}`}`,
      );
      assert.equal(page.status, 200);
      assert.ok(page.json.entries.length <= 64);
      seen.push(...page.json.entries.map((e: { block: number }) => e.block));
      cursor = page.json.nextCursor;
    } while (cursor !== undefined);
    assert.deepEqual(
      seen,
      [...Array(250).keys()].map((b) => b * 3),
    );
    assert.equal((await call(addr, "GET", "/v1/targets/disk0/remaps?limit=10000")).json.entries.length, 250);
    assertProblem(
      await call(addr, "GET", "/v1/targets/disk0/remaps?limit=10001"),
      400,
      /limit: "10001" is not an integer in 1\.\.10000/,
    );
    assertProblem(await call(addr, "GET", "/v1/targets/disk0/remaps?limit=0"), 400, /limit/);
    assertProblem(await call(addr, "GET", "/v1/targets/disk0/remaps?cursor=-1"), 400, /cursor: "-1"/);
    assertProblem(
      await call(addr, "GET", "/v1/targets/disk0/remaps?page=2"),
      400,
      /unknown query parameter "page"/,
    );
    disk0.remaps.clear();
  });

  it("remaps, unremaps, marks and clears pending blocks", async () => {
    const remap = await call(addr, "POST", "/v1/targets/disk0/remap", {
      body: { blocks: [7, 8, 7] },
      token: TOKEN,
    });
    assert.equal(remap.status, 200);
    assert.deepEqual(remap.json, { action: "remap", blocks: [7, 8] });
    assert.deepEqual([...disk0.remaps.keys()], [7, 8]);
    const unremap = await call(addr, "POST", "/v1/targets/disk0/unremap", {
      body: { blocks: [7] },
      token: TOKEN,
    });
    assert.deepEqual(unremap.json, { action: "unremap", blocks: [7] });
    assert.deepEqual([...disk0.remaps.keys()], [8]);
    const mark = await call(addr, "POST", "/v1/targets/disk0/pending", {
      body: { blocks: [30, 10] },
      token: TOKEN,
    });
    assert.deepEqual(mark.json, { action: "mark-pending", blocks: [30, 10] });
    assert.deepEqual((await call(addr, "GET", "/v1/targets/disk0/pending")).json, { blocks: [10, 30] });
    const clear = await call(addr, "DELETE", "/v1/targets/disk0/pending/30", { token: TOKEN });
    assert.deepEqual(clear.json, { action: "clear-pending", blocks: [30] });
    assert.deepEqual(disk0.pendingBlocks(), [10]);
    assertProblem(
      await call(addr, "DELETE", "/v1/targets/disk0/pending/x1", { token: TOKEN }),
      400,
      /block: "x1" is not a block number/,
    );
    assertProblem(
      await call(addr, "DELETE", "/v1/targets/disk0/pending/1000", { token: TOKEN }),
      400,
      /block 1000 is beyond the last block 999/,
    );
  });

  it("GET metadata shows generation and copies", async () => {
    disk0.copies = [
      { device: "file:/s0", slot: "A", state: "ok" },
      { device: "file:/s1", slot: "B", state: "corrupt" },
    ];
    const reply = await call(addr, "GET", "/v1/targets/disk0/metadata");
    assert.equal(reply.json.generation, disk0.generation);
    assert.deepEqual(reply.json.copies, disk0.copies);
  });

  it("validates bodies: JSON syntax, shape, block numbers, size, media type", async () => {
    const post = (opts: Parameters<typeof call>[3]) =>
      call(addr, "POST", "/v1/targets/disk0/remap", { token: TOKEN, ...opts });
    assertProblem(await post({ raw: '{"blocks": [1,' }), 400, /request body is not valid JSON: /);
    assertProblem(await post({ raw: "" }), 400, /must be a JSON object/);
    assertProblem(await post({ body: [1, 2] }), 400, /must be a JSON object/);
    assertProblem(await post({ body: { block: [1] } }), 400, /unknown member "block"/);
    assertProblem(await post({ body: { blocks: 5 } }), 400, /"blocks" must be an array/);
    assertProblem(await post({ body: { blocks: [] } }), 400, /must not be empty/);
    assertProblem(await post({ body: { blocks: [1, -1] } }), 400, /blocks\[1\]: -1 is not a block number/);
    assertProblem(await post({ body: { blocks: [1.5] } }), 400, /blocks\[0\]: 1\.5 is not a block number/);
    assertProblem(await post({ body: { blocks: ["3"] } }), 400, /blocks\[0\]: "3" is not a block number/);
    assertProblem(await post({ raw: '{"blocks":[9007199254740993]}' }), 400, /is not a block number/);
    assertProblem(
      await post({ body: { blocks: [1000] } }),
      400,
      /blocks\[0\]: block 1000 is beyond the last block 999/,
    );
    assertProblem(
      await post({ body: { blocks: [...Array(10_001).keys()] } }),
      400,
      /10001 entries, more than the maximum 10000/,
    );
    assertProblem(
      await post({ raw: JSON.stringify({ blocks: [1], pad: "x".repeat(1024 * 1024) }) }),
      413,
      /larger than 1048576 bytes/,
    );
    assertProblem(
      await post({ raw: "blocks=1", headers: { "content-type": "text/plain" } }),
      415,
      /"text\/plain"/,
    );
    assert.equal(disk0.remaps.has(1), false, "nothing was applied by refused requests");
  });

  it("maps target errors: read-only 409, no space 507 with progress, unknown 500 logged", async () => {
    disk0.state = "read-only";
    disk0.reason = "metadata write failed";
    const ro = await call(addr, "POST", "/v1/targets/disk0/remap", { body: { blocks: [1] }, token: TOKEN });
    assertProblem(ro, 409, /read-only \(metadata write failed\)/);
    assert.equal(ro.json.code, "EROFS");
    disk0.state = "healthy";
    disk0.reason = undefined;

    const full = await call(addr, "POST", "/v1/targets/lab/remap", {
      body: { blocks: [1, 2, 3] },
      token: TOKEN,
    });
    assertProblem(full, 507, /remap of block 3 failed after 2 block\(s\) succeeded: lab: no spare slot left/);
    assert.deepEqual([full.json.failedBlock, full.json.completed], [3, [1, 2]]);
    assert.equal(full.json.code, "ENOSPC");

    const original = lab.markPending.bind(lab);
    lab.markPending = async () => {
      throw new Error("secret internal detail");
    };
    const boom = await call(addr, "POST", "/v1/targets/lab/pending", { body: { blocks: [4] }, token: TOKEN });
    lab.markPending = original;
    assertProblem(boom, 500, /internal error \(Error\); see the daemon log/);
    assert.doesNotMatch(boom.text, /secret/);
    const logged = logLines.map((l) => JSON.parse(l)).find((l) => l.level === "error");
    assert.equal(logged?.msg, "API request failed");
    assert.equal(logged?.err.cause.message, "secret internal detail");
  });

  it("answers unknown paths with 404 and wrong methods with 405 and Allow", async () => {
    assertProblem(await call(addr, "GET", "/v2/nothing"), 404, /no such endpoint: \/v2\/nothing/);
    const wrong = await call(addr, "PUT", "/v1/targets/disk0/pending");
    assertProblem(wrong, 405, /PUT is not allowed on \/v1\/targets\/disk0\/pending \(allowed: GET, POST\)/);
    assert.equal(wrong.headers.allow, "GET, POST");
  });

  it("requires the bearer token for mutating endpoints on TCP", async () => {
    const body = { blocks: [5] };
    const none = await call(addr, "POST", "/v1/targets/disk0/remap", { body });
    assertProblem(none, 401, /needs an Authorization: Bearer token/);
    assert.equal(none.headers["www-authenticate"], 'Bearer realm="dmremap"');
    assertProblem(
      await call(addr, "POST", "/v1/targets/disk0/remap", { body, token: "wrong" }),
      403,
      /token is wrong/,
    );
    assertProblem(
      await call(addr, "POST", "/v1/targets/disk0/remap", { body, token: TOKEN + "x" }),
      403,
      /token is wrong/,
    );
    const basic = await call(addr, "DELETE", "/v1/targets/lab/faults", {
      headers: { authorization: `Basic ${TOKEN}` },
    });
    assertProblem(basic, 403, /token is wrong/);
    assert.equal(disk0.remaps.has(5), false);
    assert.equal((await call(addr, "GET", "/v1/targets/disk0/pending")).status, 200, "reads need no token");
  });

  it("serves fault control only for targets that have it", async () => {
    const none = await call(addr, "GET", "/v1/targets/disk0/faults");
    assertProblem(none, 404, /^fault injection not enabled for target disk0$/);
    assert.deepEqual((await call(addr, "GET", "/v1/targets/lab/faults")).json, {
      rules: [],
      status: { rules: 0 },
    });
    const rule = { kind: "dust", blocks: [5, 9] };
    const added = await call(addr, "POST", "/v1/targets/lab/faults", { body: rule, token: TOKEN });
    assert.equal(added.status, 201);
    assert.deepEqual(added.json, { rules: [rule] });
    assert.deepEqual(lab.faultRules, [rule]);
    assertProblem(
      await call(addr, "POST", "/v1/targets/lab/faults", { body: { kind: "meteor" }, token: TOKEN }),
      400,
      /"kind": "meteor" is not one of dust, flakey, random, delay, grow, slow/,
    );
    const cleared = await call(addr, "DELETE", "/v1/targets/lab/faults", { token: TOKEN });
    assert.deepEqual(cleared.json, { rules: [] });
    assert.deepEqual(lab.faultRules, []);
  });
});

describe("HTTP API without a token on TCP, and on a Unix socket", () => {
  it("refuses mutations on TCP when no token is configured; 404 for /metrics when disabled", async () => {
    const target = new FakeControlTarget({ name: "d" });
    const server = createApiServer({ targets: () => [target], logger: createLogger({ level: "error" }) });
    const addr = await server.start({ kind: "tcp", host: "127.0.0.1", port: 0 });
    try {
      const reply = await call(addr, "POST", "/v1/targets/d/pending", {
        body: { blocks: [1] },
        token: "anything",
      });
      assertProblem(reply, 403, /disabled on a TCP listener without a token \(set api\.token_file\)/);
      assert.equal(target.pending.size, 0);
      assertProblem(await call(addr, "GET", "/metrics"), 404, /metrics are not enabled/);
    } finally {
      await server.stop();
    }
  });

  it("serves the real Prometheus adapter at /metrics", async () => {
    const target = new FakeControlTarget({ name: "d" });
    await target.remapBlock(12);
    const server = createApiServer({
      targets: () => [target],
      metrics: createMetrics({ targets: () => [target] }),
      logger: createLogger({ level: "error" }),
    });
    const addr = await server.start("tcp:127.0.0.1:0");
    try {
      const reply = await call(addr, "GET", "/metrics");
      assert.equal(reply.status, 200);
      assert.match(String(reply.headers["content-type"]), /^text\/plain; version=0\.0\.4/);
      assert.match(reply.text, /^dmremap_remapped_blocks\{target="d"\} 1$/m);
    } finally {
      await server.stop();
    }
  });

  it("serves on a Unix socket without a token, replaces a stale socket and removes it on stop", async () => {
    const dir = await mkdtemp(join(tmpdir(), "dmremap-api-"));
    const path = join(dir, "api.sock");
    // Leave a stale socket file behind, as a killed daemon would.
    const stale = createServer();
    await new Promise<void>((resolve) => stale.listen(path, resolve));
    await new Promise<void>((resolve) => {
      stale.close(() => resolve());
    });
    const target = new FakeControlTarget({ name: "d" });
    const server = createApiServer({
      targets: () => [target],
      token: TOKEN,
      logger: createLogger({ level: "error" }),
    });
    try {
      const addr = await server.start(`unix:${path}`);
      assert.deepEqual(addr, { kind: "unix", path });
      assert.equal((await stat(path)).mode & 0o777, 0o660);
      const reply = await call(addr, "POST", "/v1/targets/d/remap", { body: { blocks: [3] } });
      assert.equal(reply.status, 200, reply.text);
      assert.deepEqual([...target.remaps.keys()], [3]);
      const second = createApiServer({ targets: () => [], logger: createLogger({ level: "error" }) });
      await assert.rejects(second.start(`unix:${path}`), /another process is listening/);
      await server.stop();
      await assert.rejects(stat(path), { code: "ENOENT" });
    } finally {
      await server.stop();
      await rm(dir, { recursive: true });
    }
  });
});
