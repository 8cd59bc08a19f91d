// End-to-end: the exported device-mapper table, applied in a simulator of linear / error to the main and
// spare images, serves byte for byte what the running export serves (healthy, remapped, pending, lost
// sectors); and `dmsetup create` on loop devices where the machine has device-mapper.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { DmSimulator } from "../../src/formats/dm-simulator.js";
import { parseDmTable } from "../../src/formats/dm-table.js";
import { mustRun, run, runCli, startProgram, tempDir } from "./harness.js";
import { dmremapJson } from "./formats-support.js";
import { nbdsh, nbdUnixUri, requireTools, seededBytes, sparseFile } from "./tools.js";

const MAIN_BYTES = 4 << 20;
const SECTOR = 512;

/** "E" for a sector the table errors, else the sha256 of its bytes. */
function simulatedSectors(table: string, images: Map<string, Uint8Array>): string[] {
  const sim = new DmSimulator(parseDmTable(table), images);
  const out: string[] = [];
  for (let s = 0; s < sim.sizeSectors; s++) {
    const got = sim.readSector(s);
    out.push(got === "error" ? "E" : createHash("sha256").update(got).digest("hex"));
  }
  return out;
}

/** The same view of the running export: every 4 KiB read, sector by sector where a read fails. */
async function servedSectors(uri: string): Promise<string[]> {
  const script = `
import hashlib
size = h.get_size()
out = []
for off in range(0, size, 4096):
    try:
        data = h.pread(4096, off)
        out += [hashlib.sha256(data[i:i+512]).hexdigest() for i in range(0, 4096, 512)]
    except nbd.Error:
        for i in range(0, 4096, 512):
            try:
                out.append(hashlib.sha256(h.pread(512, off + i)).hexdigest())
            except nbd.Error:
                out.append("E")
print("\\n".join(out))
`;
  const result = await nbdsh(uri, script, 120_000);
  assert.equal(result.code, 0, result.stderr);
  return result.stdout.trim().split("\n");
}

/** Remapped 3, 10, 11, 12, 40 (40 written whole), pending 20 21, block 30 written in one sector: lost sectors. */
async function prepareSet(dir: string): Promise<{ main: string; spare: string }> {
  const main = join(dir, "main.img");
  await writeFile(main, seededBytes(9, MAIN_BYTES));
  const spare = await sparseFile(join(dir, "spare.img"), 1 << 20);
  assert.equal((await runCli(["create", "--main", main, "--spare", spare, "--name", "dm"])).code, 0);
  for (const [verb, blocks] of [
    ["remap", ["3", "10", "11", "12"]],
    ["pending", ["20", "21", "30", "40"]],
  ] as const) {
    const r = await runCli([verb, "--spare", spare, ...blocks]);
    assert.equal(r.code, 0, r.stderr);
  }
  return { main, spare };
}

test("dm table in the simulator serves byte for byte what the running export serves", async () => {
  await requireTools("nbdsh");
  const dir = await tempDir("dmremap-formats-dm-");
  try {
    const { main, spare } = await prepareSet(dir.path);
    const apiSocket = join(dir.path, "api.sock");
    const socket = join(dir.path, "nbd.sock");
    const config = join(dir.path, "dm.toml");
    await writeFile(
      config,
      `[api]\nlisten = "unix:${apiSocket}"\n[nbd]\nlisten = ["unix:${socket}"]\n` +
        `[[target]]\nname = "dm"\nmain = "${main}"\nspares = ["${spare}"]\n`,
    );
    const program = await startProgram(["serve", "--config", config]);
    const uri = nbdUnixUri(socket, "dm");
    let onlineTable: string;
    try {
      const writes = await nbdsh(
        uri,
        `h.pwrite(b"\\x5a" * 512, 30 * 4096 + 2 * 512, nbd.CMD_FLAG_FUA)
h.pwrite(b"\\xa5" * 4096, 40 * 4096, nbd.CMD_FLAG_FUA)
h.pwrite(b"\\x11" * 1024, 10 * 4096 + 1024, nbd.CMD_FLAG_FUA)
h.flush()`,
      );
      assert.equal(writes.code, 0, writes.stderr);
      const listing = await dmremapJson<{
        entries: { block: number; lostSectors: number[] }[];
        pending: number[];
      }>(["list", "--api", `unix:${apiSocket}`]);
      assert.deepEqual(listing.pending, [20, 21]);
      assert.deepEqual(listing.entries.find((e) => e.block === 30)?.lostSectors, [0, 1, 3, 4, 5, 6, 7]);
      const exported = await runCli([
        "export",
        "dm-table",
        "--api",
        `unix:${apiSocket}`,
        "--main-path",
        main,
        "--spare-path",
        spare,
      ]);
      assert.equal(exported.code, 0, exported.stderr);
      onlineTable = exported.stdout;
      const images = new Map([
        [main, new Uint8Array(await readFile(main))],
        [spare, new Uint8Array(await readFile(spare))],
      ]);
      const simulated = simulatedSectors(onlineTable, images);
      const served = await servedSectors(uri);
      assert.equal(served.length, MAIN_BYTES / SECTOR);
      const errors = simulated.filter((s) => s === "E").length;
      assert.equal(errors, 2 * 8 + 7, "pending 20, 21 and seven lost sectors of 30 are errors");
      for (let s = 0; s < served.length; s++) assert.equal(simulated[s], served[s], `sector ${s}`);
    } finally {
      await program.stop();
    }
    const offline = await runCli([
      "export",
      "dm-table",
      "--spare",
      spare,
      "--main-path",
      main,
      "--spare-path",
      spare,
    ]);
    assert.equal(offline.code, 0, offline.stderr);
    assert.equal(offline.stdout, onlineTable, "offline and online exports agree");
    assert.match(offline.stdout, /^\d+ 24 linear .*main\.img 0$/m, "healthy start is linear on main");
  } finally {
    await dir.cleanup();
  }
});

/** Prints, per 512-byte sector of argv[1], "E" when an O_DIRECT read fails, else the sha256 of its bytes. */
const DIRECT_READ_SCRIPT = `
import hashlib, mmap, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECT)
size = os.lseek(fd, 0, os.SEEK_END)
buf = mmap.mmap(-1, 4096)
out = []
for off in range(0, size, 512):
    try:
        os.preadv(fd, [memoryview(buf)[:512]], off)
        out.append(hashlib.sha256(buf[:512]).hexdigest())
    except OSError:
        out.append("E")
print("\\n".join(out))
`;

/** Why dmsetup cannot run here, or undefined when it can. */
async function deviceMapperUnavailable(): Promise<string | undefined> {
  if (!existsSync("/dev/mapper/control"))
    return "device-mapper is not available (/dev/mapper/control is missing)";
  const version = await run("dmsetup", ["version"], { timeoutMs: 10_000 });
  if (version.code !== 0) return `dmsetup cannot talk to the kernel: ${version.stderr.trim().split("\n")[0]}`;
  if (!existsSync("/dev/loop-control")) return "loop devices are not available";
  return undefined;
}

test("dmsetup create with the exported table on loop devices serves what the table says", async (t) => {
  const reason = await deviceMapperUnavailable();
  if (reason) {
    t.diagnostic(`skipped: ${reason}`);
    t.skip(reason);
    return;
  }
  const dir = await tempDir("dmremap-formats-dmsetup-");
  const loops: string[] = [];
  const name = `dmremap-fmt-${process.pid}`;
  let created = false;
  try {
    const { main, spare } = await prepareSet(dir.path);
    for (const file of [main, spare])
      loops.push((await mustRun("losetup", ["-f", "--show", file])).stdout.trim());
    const exported = await runCli([
      "export",
      "dm-table",
      "--spare",
      spare,
      "--main-path",
      loops[0]!,
      "--spare-path",
      loops[1]!,
    ]);
    assert.equal(exported.code, 0, exported.stderr);
    await mustRun("dmsetup", ["create", name], { input: exported.stdout });
    created = true;
    const images = new Map([
      [loops[0]!, new Uint8Array(await readFile(main))],
      [loops[1]!, new Uint8Array(await readFile(spare))],
    ]);
    const simulated = simulatedSectors(exported.stdout, images);
    // O_DIRECT reads of single sectors (through the page cache, one bad sector would fail its whole page).
    const direct = await mustRun("python3", ["-c", DIRECT_READ_SCRIPT, `/dev/mapper/${name}`], {
      timeoutMs: 120_000,
    });
    const served = direct.stdout.trim().split("\n");
    assert.equal(served.length, simulated.length);
    for (let s = 0; s < simulated.length; s++) assert.equal(served[s], simulated[s], `sector ${s}`);
  } finally {
    if (created) await run("dmsetup", ["remove", name]);
    for (const loop of loops) await run("losetup", ["-d", loop]);
    await dir.cleanup();
  }
});
