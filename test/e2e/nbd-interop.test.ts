// Interop of the NBD server with real clients: nbdinfo, nbdcopy, nbdsh (structured and kernel-like
// simple replies), qemu-img, qemu-io (FUA, writethrough, discard, write-zeroes) and fio's nbd engine.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { MemoryDevice } from "../../src/block/memory-device.js";
import { pseudoRandom, run, startE2eServer, type E2eServer } from "./nbd-support.js";

let srv: E2eServer;
const extra = new MemoryDevice({ sizeBytes: 1 << 20 });

before(async () => {
  srv = await startE2eServer({
    extraExports: [{ name: "small", device: extra, description: "second export" }],
  });
});
after(async () => {
  await srv.stop();
});

test("nbdinfo: plain, --json flags and block sizes, --list, --map, --can", async () => {
  const plain = await run("nbdinfo", [srv.uri], { timeoutMs: 20_000 });
  assert.match(plain.stdout, /export-size: 67108864/);
  const info = JSON.parse((await run("nbdinfo", ["--json", srv.uri], { timeoutMs: 20_000 })).stdout) as {
    protocol: string;
    structured: boolean;
    exports: Record<string, unknown>[];
  };
  assert.equal(info.protocol, "newstyle-fixed");
  assert.equal(info.structured, true);
  const e = info.exports[0]!;
  for (const key of [
    "can_flush",
    "can_fua",
    "can_trim",
    "can_zero",
    "can_multi_conn",
    "can_fast_zero",
    "can_cache",
    "can_df",
  ]) {
    assert.equal(e[key], true, key);
  }
  assert.equal(e.is_read_only, false);
  assert.deepEqual(
    [e.block_size_minimum, e.block_size_preferred, e.block_size_maximum],
    [512, 4096, 32 << 20],
  );
  assert.deepEqual(e.contexts, ["base:allocation"]);

  const list = await run("nbdinfo", ["--list", `nbd+unix:///?socket=${srv.path}`], { timeoutMs: 20_000 });
  assert.match(list.stdout, /export="disk":\s+description: dmremap test disk/);
  assert.match(list.stdout, /export="small":\s+description: second export/);

  const map = await run("nbdinfo", ["--map", srv.uri], { timeoutMs: 20_000 });
  assert.match(map.stdout, /^\s*0\s+67108864\s+0\s+data/m);

  for (const what of ["flush", "fua", "trim", "zero", "multi-conn", "cache"]) {
    assert.equal(
      (await run("nbdinfo", ["--can", what, srv.uri], { allowFailure: true })).code,
      0,
      `--can ${what}`,
    );
  }
  assert.notEqual((await run("nbdinfo", ["--is", "read-only", srv.uri], { allowFailure: true })).code, 0);
});

test("nbdcopy round trip (multi-conn) byte-exact", async () => {
  const src = join(srv.dir, "src.img");
  const out = join(srv.dir, "out.img");
  writeFileSync(src, pseudoRandom(64 << 20, 11));
  await run("nbdcopy", [src, srv.uri], { timeoutMs: 60_000 });
  await run("nbdcopy", [srv.uri, out], { timeoutMs: 60_000 });
  await run("cmp", [src, out]);
  const direct = Buffer.alloc(1 << 20);
  await srv.device.read(33 << 20, direct);
  assert.deepEqual(direct, readFileSync(src).subarray(33 << 20, 34 << 20));
});

test("nbdsh with structured replies and kernel-like simple replies", async () => {
  const script = (structured: boolean) => `
h.set_request_structured_replies(${structured ? "True" : "False"})
h.connect_uri(${JSON.stringify(srv.uri)})
assert h.get_structured_replies_negotiated() == ${structured ? "True" : "False"}
h.pwrite(b"x" * 4096, 0, nbd.CMD_FLAG_FUA)
h.flush()
h.pwrite(b"y" * 512, 8192)
h.zero(1 << 20, 65536)
h.zero(1 << 20, 2 << 20, nbd.CMD_FLAG_NO_HOLE | nbd.CMD_FLAG_FAST_ZERO)
h.trim(1 << 20, 4 << 20)
h.cache(4096, 0)
assert h.pread(4096, 0) == b"x" * 4096
assert h.pread(512, 8192) == b"y" * 512
assert h.pread(4096, 65536) == bytes(4096)
assert h.pread(4096, (2 << 20) + 8192) == bytes(4096)
h.set_strict_mode(0)
try:
    h.pread(512, 64 << 20)
    raise Exception("read past the end succeeded")
except nbd.Error as e:
    assert e.errnum == errno.EINVAL, e
print("ok")
`;
  for (const structured of [true, false]) {
    const r = await run("nbdsh", ["-c", "import errno", "-c", script(structured)], { timeoutMs: 30_000 });
    assert.match(r.stdout, /ok/, `structured=${structured}`);
  }
  const bs = await run(
    "nbdsh",
    [
      "-c",
      `h.add_meta_context("base:allocation")
h.connect_uri(${JSON.stringify(srv.uri)})
seen = []
h.block_status(1 << 20, 0, lambda ctx, off, ents, err: seen.append((ctx, off, list(ents))))
print(seen)`,
    ],
    { timeoutMs: 30_000 },
  );
  assert.match(bs.stdout, /\('base:allocation', 0, \[1048576, 0\]\)/);
});

test("qemu-img info, convert and compare", async () => {
  const ref = join(srv.dir, "ref.img");
  writeFileSync(ref, pseudoRandom(64 << 20, 23));
  await run("nbdcopy", [ref, srv.uri], { timeoutMs: 60_000 });
  const info = JSON.parse(
    (await run("qemu-img", ["info", "--output=json", srv.uri], { timeoutMs: 30_000 })).stdout,
  ) as {
    "virtual-size": number;
  };
  assert.equal(info["virtual-size"], 64 << 20);
  const out = join(srv.dir, "converted.img");
  await run("qemu-img", ["convert", "-f", "raw", "-O", "raw", srv.uri, out], { timeoutMs: 60_000 });
  await run("cmp", [ref, out]);
  const cmp = await run("qemu-img", ["compare", "-f", "raw", "-F", "raw", srv.uri, ref], {
    timeoutMs: 60_000,
  });
  assert.match(cmp.stdout, /Images are identical/);
});

test("qemu-io: FUA writes, writethrough, flush, discard, write-zeroes, verified reads", async () => {
  const r = await run(
    "qemu-io",
    [
      "-f",
      "raw",
      "-c",
      "write -P 0xab -f 0 64k",
      "-c",
      "read -P 0xab 0 64k",
      "-c",
      "aio_write -P 0xcd 1M 128k",
      "-c",
      "aio_flush",
      "-c",
      "read -P 0xcd 1M 128k",
      "-c",
      "discard 2M 1M",
      "-c",
      "write -z 4M 1M",
      "-c",
      "read -P 0 4M 1M",
      "-c",
      "write -P 0x11 512 512",
      "-c",
      "read -P 0x11 512 512",
      "-c",
      "flush",
      srv.uri,
    ],
    { timeoutMs: 30_000 },
  );
  assert.doesNotMatch(r.stdout + r.stderr, /Pattern verification failed|error|failed/i);
  const wt = await run(
    "qemu-io",
    ["-t", "writethrough", "-f", "raw", "-c", "write -P 0x5a 8M 256k", "-c", "read -P 0x5a 8M 256k", srv.uri],
    {
      timeoutMs: 30_000,
    },
  );
  assert.doesNotMatch(wt.stdout + wt.stderr, /Pattern verification failed|error|failed/i);
  const check = Buffer.alloc(256 << 10);
  await srv.device.read(8 << 20, check);
  assert.deepEqual(check, Buffer.alloc(256 << 10, 0x5a));
});

test("fio nbd engine: sequential and random writes verified with crc32c over several connections", async () => {
  for (const rw of ["write", "randwrite"]) {
    const r = await run(
      "fio",
      [
        "--name=v",
        "--ioengine=nbd",
        `--uri=${srv.uri}`,
        `--rw=${rw}`,
        "--bs=4k",
        "--iodepth=32",
        "--size=16m",
        "--numjobs=4",
        "--offset_increment=16m",
        "--verify=crc32c",
        "--do_verify=1",
        "--group_reporting",
        "--output-format=json",
        "--verify_state_save=0",
      ],
      { timeoutMs: 120_000 },
    );
    const jobs = (
      JSON.parse(r.stdout.slice(r.stdout.indexOf("{"))) as {
        jobs: { error: number; write: { io_bytes: number } }[];
      }
    ).jobs;
    assert.equal(jobs[0]!.error, 0, `${rw}: fio error`);
    assert.equal(jobs[0]!.write.io_bytes, 64 << 20, `${rw}: bytes written`);
  }
});
