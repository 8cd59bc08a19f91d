// Fault rule configurations (dust, flakey, random, delay): types, defaults, validation, spec text.
// A rule config is plain data; fault-actions.ts turns a validated config into live behaviour.
import { SpecError } from "./errors.js";
import { formatSize } from "./size.js";

/** What a flakey rule does while the device is down (dm-flakey's feature args). */
export type FlakeyMode = "error-reads" | "error-writes" | "drop-writes" | "corrupt-byte";

/** Every flakey mode, in documentation order. */
export const FLAKEY_MODES: readonly FlakeyMode[] = [
  "error-reads",
  "error-writes",
  "drop-writes",
  "corrupt-byte",
];

/** dm-dust: reads of listed blocks fail; writes fail too, or (heal) succeed and clear the block. */
export interface DustRuleConfig {
  readonly kind: "dust";
  /** Bad-block unit in bytes: a power of two >= 512 (default 4096). */
  readonly blockSize?: number;
  /** Bad block numbers (in `blockSize` units). */
  readonly blocks?: readonly number[];
  /** A write touching a bad block succeeds and removes it (firmware reallocation); default false. */
  readonly heal?: boolean;
}

/** dm-flakey: up for `upMs`, then down for `downMs`, repeating; `modes` apply while down. */
export interface FlakeyRuleConfig {
  readonly kind: "flakey";
  readonly upMs: number;
  readonly downMs: number;
  /** Default: error-reads + error-writes (dm-flakey without feature args fails all I/O). */
  readonly modes?: readonly FlakeyMode[];
  /** corrupt-byte: 0-based byte of each read request to corrupt (default 0). */
  readonly corruptOffset?: number;
  /** corrupt-byte: value written into that byte; default: the byte XOR 0xff (always a change). */
  readonly corruptValue?: number;
}

/** Seeded per-operation error rates (0..1). */
export interface RandomRuleConfig {
  readonly kind: "random";
  readonly readErrorRate?: number;
  readonly writeErrorRate?: number;
  readonly flushErrorRate?: number;
  /** PRNG seed (default 1): the same seed gives the same sequence of faults. */
  readonly seed?: number;
}

/** dm-delay: delay reads / writes, everywhere or only requests touching `range`. */
export interface DelayRuleConfig {
  readonly kind: "delay";
  readonly readDelayMs?: number;
  readonly writeDelayMs?: number;
  readonly range?: { readonly offsetBytes: number; readonly lengthBytes: number };
}

/** One fault rule, as data. */
export type FaultRuleConfig = DustRuleConfig | FlakeyRuleConfig | RandomRuleConfig | DelayRuleConfig;

/** The kinds of fault rule. */
export type FaultKind = FaultRuleConfig["kind"];

/** A rule config with every default filled in. */
export type NormalizedRule<C extends FaultRuleConfig> = {
  readonly [K in keyof C]-?: Exclude<C[K], undefined>;
};

/** Fully specified rule config (what describe() prints and what the actions run on). */
export type NormalizedFaultRule =
  | NormalizedRule<DustRuleConfig>
  | (NormalizedRule<Omit<FlakeyRuleConfig, "corruptValue">> & { readonly corruptValue?: number })
  | NormalizedRule<RandomRuleConfig>
  | (NormalizedRule<Omit<DelayRuleConfig, "range">> & { readonly range?: DelayRuleConfig["range"] });

function bad(value: unknown, message: string): SpecError {
  return new SpecError(String(value), message);
}

function checkRate(kind: string, name: string, value: number | undefined): number {
  const v = value ?? 0;
  if (!Number.isFinite(v) || v < 0 || v > 1)
    throw bad(v, `${kind} ${name} ${v} is not a rate between 0 and 1`);
  return v;
}

function checkDuration(kind: string, name: string, value: number | undefined): number {
  const v = value ?? 0;
  if (!Number.isFinite(v) || v < 0) throw bad(v, `${kind} ${name} ${v} is not a duration >= 0 ms`);
  return v;
}

/** Validate a rule and fill in defaults; `sizeBytes` (the device size) bounds blocks and ranges. */
export function normalizeFaultRule(config: FaultRuleConfig, sizeBytes: number): NormalizedFaultRule {
  switch (config.kind) {
    case "dust": {
      const blockSize = config.blockSize ?? 4096;
      if (!Number.isSafeInteger(blockSize) || blockSize < 512 || (blockSize & (blockSize - 1)) !== 0) {
        throw bad(blockSize, `dust block size ${blockSize} is not a power of two >= 512`);
      }
      const blocks = [...new Set(config.blocks ?? [])].sort((a, b) => a - b);
      for (const block of blocks) checkDustBlock(block, blockSize, sizeBytes);
      return { kind: "dust", blockSize, blocks, heal: config.heal ?? false };
    }
    case "flakey": {
      const upMs = checkDuration("flakey", "up", config.upMs);
      const downMs = checkDuration("flakey", "down", config.downMs);
      if (upMs + downMs === 0) throw bad(0, "flakey up and down intervals are both 0");
      const modes: FlakeyMode[] = [...new Set(config.modes ?? (["error-reads", "error-writes"] as const))];
      for (const mode of modes) {
        if (!FLAKEY_MODES.includes(mode)) {
          throw bad(mode, `unknown flakey mode "${mode}" (expected one of ${FLAKEY_MODES.join(", ")})`);
        }
      }
      if (modes.length === 0) throw bad("", "flakey needs at least one mode");
      for (const [a, b] of [
        ["error-writes", "drop-writes"],
        ["error-reads", "corrupt-byte"],
      ] as const) {
        if (modes.includes(a) && modes.includes(b))
          throw bad(b, `flakey modes "${a}" and "${b}" exclude each other`);
      }
      const corruptOffset = config.corruptOffset ?? 0;
      if (!Number.isSafeInteger(corruptOffset) || corruptOffset < 0) {
        throw bad(corruptOffset, `flakey corrupt offset ${corruptOffset} is not an integer >= 0`);
      }
      const { corruptValue } = config;
      if (
        corruptValue !== undefined &&
        (!Number.isInteger(corruptValue) || corruptValue < 0 || corruptValue > 255)
      ) {
        throw bad(corruptValue, `flakey corrupt value ${corruptValue} is not a byte value 0..255`);
      }
      return { kind: "flakey", upMs, downMs, modes, corruptOffset, corruptValue };
    }
    case "random": {
      const seed = config.seed ?? 1;
      if (!Number.isSafeInteger(seed) || seed < 0)
        throw bad(seed, `random seed ${seed} is not an integer >= 0`);
      return {
        kind: "random",
        readErrorRate: checkRate("random", "read error rate", config.readErrorRate),
        writeErrorRate: checkRate("random", "write error rate", config.writeErrorRate),
        flushErrorRate: checkRate("random", "flush error rate", config.flushErrorRate),
        seed,
      };
    }
    case "delay": {
      const { range } = config;
      if (range !== undefined) {
        const { offsetBytes, lengthBytes } = range;
        const valid =
          Number.isSafeInteger(offsetBytes) &&
          Number.isSafeInteger(lengthBytes) &&
          offsetBytes >= 0 &&
          lengthBytes > 0;
        if (!valid || offsetBytes + lengthBytes > sizeBytes) {
          throw bad(
            `${offsetBytes}+${lengthBytes}`,
            `delay range ${offsetBytes}+${lengthBytes} is not a non-empty range inside the device (size ${sizeBytes})`,
          );
        }
      }
      return {
        kind: "delay",
        readDelayMs: checkDuration("delay", "read", config.readDelayMs),
        writeDelayMs: checkDuration("delay", "write", config.writeDelayMs),
        range,
      };
    }
    default:
      throw bad(
        (config as { kind: unknown }).kind,
        `unknown fault kind "${(config as { kind: unknown }).kind}"`,
      );
  }
}

/** Throw a SpecError unless `block` is a block number inside a device of `sizeBytes`. */
export function checkDustBlock(block: number, blockSize: number, sizeBytes: number): void {
  if (!Number.isSafeInteger(block) || block < 0 || block * blockSize >= sizeBytes) {
    throw bad(
      block,
      `dust block ${block} is not inside the device (${Math.ceil(sizeBytes / blockSize)} blocks of ${blockSize} bytes)`,
    );
  }
}

/** Duration as spec text: whole seconds as "5s", else milliseconds ("200ms"). */
export function formatDuration(ms: number): string {
  return ms !== 0 && ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/** Sorted block numbers as spec items, runs collapsed: [5, 9, 10, 11] -> ["5", "9-11"]. */
function blockItems(blocks: readonly number[]): string[] {
  const items: string[] = [];
  for (let i = 0; i < blocks.length;) {
    let j = i;
    while (j + 1 < blocks.length && blocks[j + 1] === blocks[j]! + 1) j++;
    items.push(i === j ? `block=${blocks[i]}` : `block=${blocks[i]}-${blocks[j]}`);
    i = j + 1;
  }
  return items;
}

/** A normalized rule as device-spec wrapper text ("dust:block-size=4K,block=5,heal"), without the lower spec. */
export function formatFaultRule(rule: NormalizedFaultRule): string {
  const items: string[] = [];
  switch (rule.kind) {
    case "dust":
      items.push(`block-size=${formatSize(rule.blockSize)}`, ...blockItems(rule.blocks));
      if (rule.heal) items.push("heal");
      break;
    case "flakey":
      items.push(`up=${formatDuration(rule.upMs)}`, `down=${formatDuration(rule.downMs)}`);
      items.push(...rule.modes.map((m) => `mode=${m}`));
      if (rule.modes.includes("corrupt-byte")) {
        items.push(`corrupt-offset=${rule.corruptOffset}`);
        if (rule.corruptValue !== undefined) items.push(`corrupt-value=${rule.corruptValue}`);
      }
      break;
    case "random":
      items.push(
        `read=${rule.readErrorRate}`,
        `write=${rule.writeErrorRate}`,
        `flush=${rule.flushErrorRate}`,
      );
      items.push(`seed=${rule.seed}`);
      break;
    case "delay":
      items.push(`read=${formatDuration(rule.readDelayMs)}`, `write=${formatDuration(rule.writeDelayMs)}`);
      if (rule.range)
        items.push(`range=${formatSize(rule.range.offsetBytes)}+${formatSize(rule.range.lengthBytes)}`);
      break;
  }
  return `${rule.kind}:${items.join(",")}`;
}
