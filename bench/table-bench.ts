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

const arrayBytes = heapAfter.arrayBuffers - heapBefore.arrayBuffers;
console.log(`RemapTable with ${table.size} entries (sink ${sink % 10})`);
console.log(`insert (random order)          ${insertNs.toFixed(1)} ns/op`);
console.log(`lookup hit                     ${hitNs.toFixed(1)} ns/op`);
console.log(`lookup miss                    ${missNs.toFixed(1)} ns/op`);
console.log(`firstInRange (8192 blocks)     ${rangeNs.toFixed(1)} ns/op`);
console.log(`firstInRange on empty table    ${emptyRangeNs.toFixed(1)} ns/op`);
console.log(`typed arrays                   ${(table.byteLength / table.size).toFixed(1)} bytes/entry`);
console.log(`process arrayBuffers delta     ${(arrayBytes / table.size).toFixed(1)} bytes/entry`);
