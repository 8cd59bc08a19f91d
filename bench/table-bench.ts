// Micro-benchmark of RemapTable with 1,000,000 entries: ns/op of insert, lookup (hit / miss),
// firstInRange over an 8192-block request, and bytes per entry. Run: node dist/bench/table-bench.js
import { performance } from "node:perf_hooks";
import { Prng } from "../src/block/prng.js";
import { RemapTable } from "../src/remap/remap-table.js";

const ENTRIES = Number(process.env.ENTRIES ?? 1_000_000);
const LOOKUPS = 2_000_000;
const SPACE = 2 ** 32; // blocks: a 16 TiB main device with 4 KiB blocks

function nsPerOp(ops: number, run: () => void): number {
  const t0 = performance.now();
  run();
  return ((performance.now() - t0) * 1e6) / ops;
}

const rng = new Prng(1);
const keys = new Float64Array(ENTRIES);
for (let i = 0; i < ENTRIES; i++) keys[i] = Math.floor(rng.next() * SPACE);

const heapBefore = process.memoryUsage();
const table = new RemapTable();
const insertNs = nsPerOp(ENTRIES, () => {
  for (let i = 0; i < ENTRIES; i++) table.set(keys[i]!, i);
});
table.toSnapshot(); // fold the delta so byteLength reflects the steady state
const heapAfter = process.memoryUsage();

let sink = 0;
const hitNs = nsPerOp(LOOKUPS, () => {
  for (let i = 0; i < LOOKUPS; i++) sink += table.get(keys[(i * 7919) % ENTRIES]!);
});
const missNs = nsPerOp(LOOKUPS, () => {
  for (let i = 0; i < LOOKUPS; i++) sink += table.get(Math.floor(rng.next() * SPACE) + 0.5);
});
const RANGES = 1_000_000;
const rangeNs = nsPerOp(RANGES, () => {
  for (let i = 0; i < RANGES; i++) {
    const start = Math.floor(rng.next() * SPACE);
    sink += table.firstInRange(start, start + 8192);
  }
});
const empty = new RemapTable();
const emptyRangeNs = nsPerOp(RANGES, () => {
  for (let i = 0; i < RANGES; i++) sink += empty.firstInRange(i, i + 8192);
});

// Flatness: the per-request check of a 1-block request against tables of 0 / 10,000 / 1,000,000
// entries over a 16 GiB main, built by random inserts (so the delta buffer is partly full, as live).
const flat: string[] = [];
for (const n of [0, 10_000, 1_000_000]) {
  const t = new RemapTable();
  const blocks = 4 * 2 ** 20;
  for (let i = 0; i < n; i++) t.set(Math.floor(rng.next() * blocks), i);
  const ns = nsPerOp(RANGES, () => {
    for (let i = 0; i < RANGES; i++) {
      const start = (i * 7919) % blocks;
      sink += t.firstInRange(start, start + 1);
    }
  });
  flat.push(`firstInRange (1 block), ${n} entries`.padEnd(40) + `  ${ns.toFixed(1)} ns/op`);
}

const arrayBytes = heapAfter.arrayBuffers - heapBefore.arrayBuffers;
console.log(`RemapTable with ${table.size} entries (sink ${sink % 10})`);
console.log(`insert (random order)          ${insertNs.toFixed(1)} ns/op`);
console.log(`lookup hit                     ${hitNs.toFixed(1)} ns/op`);
console.log(`lookup miss                    ${missNs.toFixed(1)} ns/op`);
console.log(`firstInRange (8192 blocks)     ${rangeNs.toFixed(1)} ns/op`);
console.log(`firstInRange on empty table    ${emptyRangeNs.toFixed(1)} ns/op`);
for (const line of flat) console.log(line);
console.log(`typed arrays                   ${(table.byteLength / table.size).toFixed(1)} bytes/entry`);
console.log(`process arrayBuffers delta     ${(arrayBytes / table.size).toFixed(1)} bytes/entry`);

// Data-path overhead: 4 KiB reads through a RemappedDevice (table empty, then 10,000 remaps elsewhere)
// versus the same MemoryDevice directly.
const { MemoryDevice } = await import("../src/block/memory-device.js");
const { openRemappedDevice } = await import("../src/remap/remapped-device.js");
const { createMemorySet } = await import("../src/remap/testing/memory-store.js");
const MAIN_BLOCKS = 16384;
const READS = 200_000;
const { opened } = createMemorySet({
  blockSize: 4096,
  mainSizeBytes: MAIN_BLOCKS * 4096,
  spareSlots: [10_000],
});
const main = new MemoryDevice({ sizeBytes: MAIN_BLOCKS * 4096 });
const spare = new MemoryDevice({ sizeBytes: 10_001 * 4096 });
const remapped = openRemappedDevice({ main, spares: [spare], opened });
const buf = new Uint8Array(4096);
async function readNs(
  device: { read(o: number, t: Uint8Array): Promise<void> },
  blocks: number,
): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < READS; i++) await device.read(((i * 7919) % blocks) * 4096, buf);
  return ((performance.now() - t0) * 1e6) / READS;
}
const direct = await readNs(main, 2048);
const viaEmpty = await readNs(remapped, 2048);
for (let b = 6000; b < 16000; b++) await remapped.remapBlock(b);
const viaTable = await readNs(remapped, 2048);
console.log(`4 KiB read, MemoryDevice direct ${direct.toFixed(0)} ns/op`);
console.log(`4 KiB read, RemappedDevice (no remaps)          ${viaEmpty.toFixed(0)} ns/op`);
console.log(`4 KiB read, RemappedDevice (10,000 remaps, none in range) ${viaTable.toFixed(0)} ns/op`);
