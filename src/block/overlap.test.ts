// Overlap check: examples, and a property test: random layouts of files (with hard links), slices,
// partitions and NBD URIs agree with a brute-force model that lists every 512-byte sector used.
import { test } from "node:test";
import assert from "node:assert/strict";
import { OverlapError } from "./errors.js";
import {
  assertNoOverlap,
  findOverlaps,
  resolveExtent,
  resolveRegions,
  type PartitionFacts,
  type PathFacts,
  type ResolveEnv,
} from "./overlap.js";
import { Prng } from "./prng.js";

const SECTOR = 512;

/** A fake machine: files (path -> inode), disks (major:minor) and partitions. */
interface FakeMachine {
  files: Map<string, { ino: number; sectors: number }>;
  disks: Map<string, { minor: number; sectors: number }>;
  partitions: Map<string, { diskMinor: number; minor: number; start: number; sectors: number }>;
}

function envOf(m: FakeMachine): ResolveEnv {
  return {
    async statPath(path): Promise<PathFacts> {
      const f = m.files.get(path);
      if (f) return { kind: "file", dev: "2049", ino: String(f.ino), sizeBytes: f.sectors * SECTOR };
      const d = m.disks.get(path);
      if (d) return { kind: "block", major: 7, minor: d.minor };
      const p = m.partitions.get(path);
      if (p) return { kind: "block", major: 259, minor: p.minor };
      return { kind: "missing" };
    },
    async partition(major, minor): Promise<PartitionFacts | undefined> {
      if (major !== 259) return undefined;
      const p = [...m.partitions.values()].find((x) => x.minor === minor)!;
      return {
        diskMajor: 7,
        diskMinor: p.diskMinor,
        startBytes: p.start * SECTOR,
        sizeBytes: p.sectors * SECTOR,
      };
    },
    async blockSize(_major, minor) {
      const d = [...m.disks.values()].find((x) => x.minor === minor);
      return d ? d.sectors * SECTOR : undefined;
    },
  };
}

const machine: FakeMachine = {
  files: new Map([
    ["/data/main.img", { ino: 11, sectors: 64 }],
    ["/data/link-to-main.img", { ino: 11, sectors: 64 }],
    ["/data/spare.img", { ino: 12, sectors: 16 }],
  ]),
  disks: new Map([["/dev/sdb", { minor: 0, sectors: 100 }]]),
  partitions: new Map([
    ["/dev/sdb1", { diskMinor: 0, minor: 1, start: 2, sectors: 60 }],
    ["/dev/sdb2", { diskMinor: 0, minor: 2, start: 62, sectors: 38 }],
  ]),
};
const env = envOf(machine);

const overlapping = async (a: string, b: string) =>
  findOverlaps(
    await resolveRegions(
      [
        { role: "main", spec: a },
        { role: "spare 0", spec: b },
      ],
      env,
    ),
  ).length > 0;

test("the same file, a hard link, and a slice inside the main's range overlap", async () => {
  assert.equal(await overlapping("/data/main.img", "/data/main.img"), true);
  assert.equal(await overlapping("/data/main.img", "/data/link-to-main.img"), true);
  assert.equal(await overlapping("/data/main.img", "slice:offset=8K:/data/main.img"), true);
  assert.equal(await overlapping("/data/main.img", "/data/spare.img"), false);
});

test("a spare in the tail of a disk is legal when the main is the slice before it", async () => {
  assert.equal(await overlapping("slice:length=20K:/dev/sdb", "slice:offset=20K:/dev/sdb"), false);
  assert.equal(await overlapping("slice:length=20K:/dev/sdb", "slice:offset=16K:/dev/sdb"), true);
  assert.equal(await overlapping("/dev/sdb1", "/dev/sdb2"), false);
  assert.equal(await overlapping("/dev/sdb", "/dev/sdb2"), true);
  // sdb1 is sectors 2..61 of sdb: a slice of the disk at sector 61 touches its last sector.
  assert.equal(await overlapping("/dev/sdb1", "slice:offset=31232,length=512:/dev/sdb"), true);
  assert.equal(await overlapping("/dev/sdb1", "slice:offset=31744:/dev/sdb"), false);
  assert.equal(await overlapping("dust:block=1:/dev/sdb1", "/dev/sdb1"), true);
});

test("NBD URIs compare by URI; mem: devices never overlap", async () => {
  assert.equal(await overlapping("nbd://host:10809/disk", "nbd://host:10809/disk"), true);
  assert.equal(await overlapping("nbd://host:10809/disk", "nbd://host:10809/other"), false);
  assert.equal(await overlapping("slice:length=1M:nbd://h/x", "slice:offset=1M:nbd://h/x"), false);
  assert.equal(await overlapping("mem:1M", "mem:1M"), false);
});

test("the refusal names both devices and both byte ranges", async () => {
  const regions = await resolveRegions(
    [
      { role: "main of target disk0", spec: "/data/main.img" },
      { role: "spare 0 of target disk0", spec: "slice:offset=8K:/data/link-to-main.img" },
    ],
    env,
  );
  assert.throws(
    () => assertNoOverlap(regions),
    (err: unknown) =>
      err instanceof OverlapError &&
      err.code === "EOVERLAP" &&
      err.message.includes('main of target disk0 "/data/main.img" (bytes 0-32767 of /data/main.img)') &&
      err.message.includes(
        'spare 0 of target disk0 "slice:offset=8K:/data/link-to-main.img" (bytes 8192-32767',
      ),
  );
});

test("a partition's range comes from its start and size", async () => {
  const e = await resolveExtent("slice:offset=1K,length=2K:/dev/sdb2", env);
  assert.deepEqual(
    { object: e.object, offset: e.offsetBytes, length: e.lengthBytes },
    { object: "disk:7:0", offset: 62 * SECTOR + 1024, length: 2048 },
  );
});

// ---- property test -------------------------------------------------------------------------

/** Every (object, sector) a spec uses, by listing sectors (no arithmetic shared with the resolver). */
function bruteSectors(m: FakeMachine, spec: Spec): Set<string> {
  let list: string[];
  const base = spec.base;
  if (base.startsWith("mem:")) return new Set();
  if (base.startsWith("nbd://")) list = Array.from({ length: 4096 }, (_, i) => `${base}#${i}`);
  else if (m.files.has(base)) {
    const f = m.files.get(base)!;
    list = Array.from({ length: f.sectors }, (_, i) => `ino${f.ino}#${i}`);
  } else if (m.disks.has(base)) {
    const d = m.disks.get(base)!;
    list = Array.from({ length: d.sectors }, (_, i) => `disk${d.minor}#${i}`);
  } else {
    const p = m.partitions.get(base)!;
    list = Array.from({ length: p.sectors }, (_, i) => `disk${p.diskMinor}#${p.start + i}`);
  }
  for (const s of spec.slices) {
    list = list.slice(s.offset, s.length === undefined ? undefined : s.offset + s.length);
  }
  return new Set(list);
}

interface Spec {
  base: string;
  /** Innermost first, in sectors. */
  slices: { offset: number; length?: number }[];
  fault: boolean;
}

function specText(s: Spec): string {
  let text = s.base;
  for (const sl of s.slices) {
    const opts = [
      `offset=${sl.offset * SECTOR}`,
      ...(sl.length !== undefined ? [`length=${sl.length * SECTOR}`] : []),
    ];
    text = `slice:${opts.join(",")}:${text}`;
  }
  return s.fault ? `dust:block=0:${text}` : text;
}

function randomMachine(rng: Prng): FakeMachine {
  const m: FakeMachine = { files: new Map(), disks: new Map(), partitions: new Map() };
  const inodes = 1 + rng.nextInt(3);
  for (let i = 0; i < inodes; i++) {
    const sectors = 4 + rng.nextInt(40);
    m.files.set(`/f/file${i}`, { ino: 100 + i, sectors });
    if (rng.nextInt(2) === 0) m.files.set(`/f/link${i}`, { ino: 100 + i, sectors });
  }
  const disks = 1 + rng.nextInt(2);
  let minor = 0;
  for (let d = 0; d < disks; d++) {
    const sectors = 32 + rng.nextInt(64);
    const diskMinor = minor++;
    m.disks.set(`/dev/loop${d}`, { minor: diskMinor, sectors });
    // Partitions as sfdisk would lay them out: in order, not overlapping, possibly with gaps.
    let at = 1 + rng.nextInt(4);
    for (let p = 1; p <= 3 && at < sectors - 2; p++) {
      const size = 1 + rng.nextInt(Math.max(1, Math.floor((sectors - at) / 2)));
      m.partitions.set(`/dev/loop${d}p${p}`, { diskMinor, minor: 100 + minor++, start: at, sectors: size });
      at += size + rng.nextInt(3);
    }
  }
  return m;
}

function randomSpec(rng: Prng, m: FakeMachine): Spec {
  const bases = [
    ...m.files.keys(),
    ...m.disks.keys(),
    ...m.partitions.keys(),
    "nbd://h/a",
    "nbd://h/b",
    "mem:64K",
  ];
  const base = bases[rng.nextInt(bases.length)]!;
  const slices: Spec["slices"] = [];
  const depth = rng.nextInt(3);
  for (let i = 0; i < depth; i++) {
    const offset = rng.nextInt(24);
    slices.push(rng.nextInt(3) === 0 ? { offset } : { offset, length: 1 + rng.nextInt(24) });
  }
  return { base, slices, fault: rng.nextInt(4) === 0 };
}

test("property: random layouts agree with a brute-force sector model", async () => {
  const rng = new Prng(20261130);
  let overlaps = 0;
  let disjoint = 0;
  for (let round = 0; round < 400; round++) {
    const m = randomMachine(rng);
    const specs = Array.from({ length: 2 + rng.nextInt(4) }, () => randomSpec(rng, m));
    // A slice whose offset is past its lower device is refused when opened; the model skips it.
    const models = specs.map((s) => bruteSectors(m, s));
    const regions = await resolveRegions(
      specs.map((s, i) => ({ role: `device ${i}`, spec: specText(s) })),
      envOf(m),
    );
    const found = new Set(findOverlaps(regions).map((o) => `${o.a.role}|${o.b.role}`));
    for (let i = 0; i < specs.length; i++) {
      for (let j = i + 1; j < specs.length; j++) {
        const expected = [...models[i]!].some((x) => models[j]!.has(x));
        const got = found.has(`device ${i}|device ${j}`);
        assert.equal(got, expected, `round ${round}: ${specText(specs[i]!)} vs ${specText(specs[j]!)}`);
        if (expected) overlaps++;
        else disjoint++;
      }
    }
  }
  // The generator must exercise both answers, or the property proves little.
  assert.ok(overlaps > 100 && disjoint > 100, `overlaps ${overlaps}, disjoint ${disjoint}`);
});
