// Tests of the dashboard routes on a real API server with a fake target: the block map and its query
// validation, the overview, alert acknowledgement behind the token, and SSE streams that a stop ends.
import assert from "node:assert/strict";
import { get, request } from "node:http";
import { after, before, describe, it } from "node:test";
import { FakeControlTarget } from "./fake-control-target.js";
import { type ApiServer, createApiServer } from "./http-api.js";
import type { ListenAddress } from "./listen-address.js";
import { createLogger } from "./logger.js";

const TOKEN = "web-routes-token-0123";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

function call(
  at: ListenAddress,
  method: string,
  path: string,
  token?: string,
): Promise<{ status: number; json: Json }> {
  if (at.kind !== "tcp") throw new Error("tcp only");
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: at.host,
        port: at.port,
        method,
        path,
        agent: false,
        headers: token ? { authorization: `Bearer ${token}` } : {},
      },
      (res) => {
        let text = "";
        res.on("data", (c: Buffer) => (text += c.toString()));
        res.on("end", () => resolve({ status: res.statusCode!, json: text ? JSON.parse(text) : undefined }));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

describe("dashboard routes", () => {
  const target = new FakeControlTarget({ name: "disk0", blocks: 1000 });
  let server: ApiServer;
  let at: ListenAddress;

  before(async () => {
    target.remaps.set(5, 0);
    target.remaps.set(950, 1);
    target.pending.add(17);
    server = createApiServer({
      targets: () => [target],
      token: TOKEN,
      logger: createLogger({ level: "error" }),
    });
    at = await server.start("tcp:127.0.0.1:0");
  });
  after(() => server.stop());

  it("GET /v1/targets/NAME/blockmap aggregates remapped and pending blocks", async () => {
    const r = await call(at, "GET", "/v1/targets/disk0/blockmap?cells=10");
    assert.equal(r.status, 200);
    assert.equal(r.json.blocksPerCell, 100);
    assert.deepEqual(r.json.remapped, [
      [0, 1],
      [9, 1],
    ]);
    assert.deepEqual(r.json.pending, [[0, 1]]);
    const zoom = await call(at, "GET", "/v1/targets/disk0/blockmap?from=0&to=10&cells=100");
    assert.equal(zoom.json.blocksPerCell, 1);
    assert.deepEqual(zoom.json.remapped, [[5, 1]]);
  });

  it("a bad block map query is a 400 naming the value", async () => {
    const r = await call(at, "GET", "/v1/targets/disk0/blockmap?to=5000");
    assert.equal(r.status, 400);
    assert.match(r.json.detail, /to: "5000" is not an integer in 1\.\.1000/);
    const cells = await call(at, "GET", "/v1/targets/disk0/blockmap?cells=0");
    assert.match(cells.json.detail, /cells: "0"/);
    const unknown = await call(at, "GET", "/v1/targets/disk0/blockmap?zoom=2");
    assert.match(unknown.json.detail, /unknown query parameter "zoom"/);
  });

  it("GET /v1/dashboard has one row per target", async () => {
    const r = await call(at, "GET", "/v1/dashboard");
    assert.equal(r.status, 200);
    assert.equal(r.json[0].name, "disk0");
    assert.equal(r.json[0].remappedBlocks, 2);
    assert.equal(r.json[0].scan, null, "no scanner on a fake target");
  });

  it("acknowledging an alert needs the token", async () => {
    target.state = "degraded";
    assert.equal((await call(at, "POST", "/v1/targets/disk0/alert/ack")).status, 401);
    const ok = await call(at, "POST", "/v1/targets/disk0/alert/ack", TOKEN);
    assert.equal(ok.status, 200);
    assert.equal(ok.json.condition, "degraded|");
    const rows = await call(at, "GET", "/v1/dashboard");
    assert.equal(rows.json[0].acknowledged, true);
    target.state = "healthy";
  });

  it("an unknown dashboard asset is a 404", async () => {
    const r = await call(at, "GET", "/ui/secret.txt");
    assert.equal(r.status, 404);
    assert.match(r.json.detail, /no dashboard asset named "secret.txt"/);
  });
});

it("an SSE stream gets the overview at once and is ended by stop()", async () => {
  const target = new FakeControlTarget({ name: "t1" });
  const server = createApiServer({ targets: () => [target], logger: createLogger({ level: "error" }) });
  const at = await server.start("tcp:127.0.0.1:0");
  if (at.kind !== "tcp") throw new Error("tcp only");
  const ended = new Promise<string>((resolve, reject) => {
    get({ host: at.host, port: at.port, path: "/v1/events?target=t1", agent: false }, (res) => {
      assert.equal(res.headers["content-type"], "text/event-stream");
      let text = "";
      res.on("data", (c: Buffer) => {
        text += c.toString();
        // Both first events are there: stop the server, which must end this stream.
        if (text.includes("event: overview") && text.includes("event: target")) void server.stop();
      });
      res.on("end", () => resolve(text));
    }).on("error", reject);
  });
  const text = await ended;
  assert.match(text, /event: target\ndata: \{"row":\{"name":"t1"/);
});
