// The anatomy every fault kind shares (as every dm target has one): an options schema as data, live
// behaviour (an action that wraps each request), counters and status. One file per kind fills it in.
import { MediumError } from "../errors.js";
import type { OptionType } from "./option-types.js";

/** One option of a kind. The key of the schema entry is its canonical name, in camelCase. */
export interface OptionDef<T> {
  readonly type: OptionType<T>;
  /** Default (absent: the option is optional without default, or `required`). */
  readonly default?: T;
  readonly required?: boolean;
  /** Inclusive bounds of a numeric value. */
  readonly min?: number;
  readonly max?: number;
  /** Default as docs show it when there is no `default` value ("byte XOR 0xff"). */
  readonly defaultText?: string;
  readonly help: string;
}

/** Options of a kind: canonical camelCase name -> definition. */
export type OptionsSchema = Readonly<Record<string, OptionDef<unknown>>>;

/** Option values of a schema: options with a default or marked required are always present. */
export type OptionsOf<S extends OptionsSchema> = {
  readonly [K in keyof S]: S[K] extends OptionDef<infer T>
    ? S[K] extends { readonly default: unknown } | { readonly required: true }
      ? T
      : T | undefined
    : never;
};

/** One counter of injected faults (shown in the fault layer's status under `faults`). */
export interface CounterDef {
  readonly name: string;
  readonly help: string;
  /** Counts something other than an injected fault (e.g. a healed block); not in `injected`. */
  readonly notInjected?: boolean;
}

/** One request passing through the rules; `buffer` is the read target or the write data. */
export interface FaultRequest {
  readonly type: "read" | "write" | "flush" | "trim" | "zero";
  readonly offsetBytes: number;
  readonly lengthBytes: number;
  readonly buffer?: Uint8Array;
}

/** What a rule needs from the fault layer it sits in. */
export interface FaultContext {
  /** Device name for error messages. */
  readonly device: string;
  readonly sizeBytes: number;
  /** The layer's clock, in milliseconds (injectable). */
  now(): number;
  /** How the layer waits (injectable). */
  sleep(ms: number): Promise<void>;
  /** Increment one of the kind's counters. */
  count(counter: string): void;
}

/** A live rule: `apply` either handles the request itself or calls `next` (the rest of the chain). */
export interface FaultAction {
  apply(request: FaultRequest, next: () => Promise<void>): Promise<void>;
  /** Current option values when they change at runtime (e.g. healed blocks); default: as created. */
  options?(): Record<string, unknown>;
  /** Live state of the rule (beyond the counters), e.g. how many blocks are bad now. */
  status?(): Record<string, unknown>;
  /** Blocks that fail now, ascending, in the rule's block size (kinds with a bad-block set). */
  badBlocks?(): number[];
}

/** A fault kind: its schema, docs, counters and how to build its live action. */
export interface FaultKind<S extends OptionsSchema = OptionsSchema> {
  /** Kind name; also the device-spec wrapper name. */
  readonly name: string;
  /** One line saying what it emulates (docs, help). */
  readonly summary: string;
  readonly options: S;
  readonly counters: readonly CounterDef[];
  /**
   * Checks across options and against the device size; throw `fail(option, message)`. Called with
   * `sizeBytes` Infinity when the device is not known yet (parsing a spec).
   */
  check?(
    options: OptionsOf<S>,
    sizeBytes: number,
    fail: (option: keyof S & string, message: string) => Error,
  ): void;
  /** The live action of a validated rule. */
  create(options: OptionsOf<S>, ctx: FaultContext): FaultAction;
}

/** Declare a kind (keeps its option types precise for `check` and `create`). */
export function defineFaultKind<const S extends OptionsSchema>(kind: FaultKind<S>): FaultKind<S> {
  return kind;
}

/** The kebab-case words of a camelCase name: "blockSize" -> "block-size". */
function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** Spelling of an option in a device spec: kebab-case; a list option's items use the singular. */
export function specKey(name: string, def: OptionDef<unknown>): string {
  const key = kebab(name);
  return def.type.list && key.endsWith("s") ? key.slice(0, -1) : key;
}

/** Spelling of an option in the TOML config: snake_case. */
export function tomlKey(name: string): string {
  return kebab(name).replaceAll("-", "_");
}

/** Spelling of an option in JSON (HTTP API, TypeScript): the canonical camelCase name itself. */
export function jsonKey(name: string): string {
  return name;
}

/** A MediumError for an injected fault, naming the byte range and why. */
export function injectedError(
  ctx: FaultContext,
  req: FaultRequest,
  offsetBytes: number,
  lengthBytes: number,
  why: string,
): MediumError {
  const op = req.type;
  const range = op === "flush" ? "" : ` of bytes ${offsetBytes}..${offsetBytes + lengthBytes - 1}`;
  return new MediumError(
    ctx.device,
    op,
    offsetBytes,
    lengthBytes,
    `${ctx.device}: medium error on ${op}${range} (${why})`,
  );
}

/** Blocks of `blockSize` touched by a request, as [first, last]. */
export function touchedBlocks(req: FaultRequest, blockSize: number): [number, number] {
  const first = Math.floor(req.offsetBytes / blockSize);
  const last = Math.floor((req.offsetBytes + Math.max(req.lengthBytes, 1) - 1) / blockSize);
  return [first, last];
}

/** The part of a request that lies in block `block`, as [offsetBytes, lengthBytes]. */
export function blockPart(req: FaultRequest, block: number, blockSize: number): [number, number] {
  const start = Math.max(req.offsetBytes, block * blockSize);
  const end = Math.min(req.offsetBytes + req.lengthBytes, (block + 1) * blockSize);
  return [start, end - start];
}

/** Check a block-size option: a power of two >= 512. */
export function isBlockSize(bytes: number): boolean {
  return Number.isSafeInteger(bytes) && bytes >= 512 && (bytes & (bytes - 1)) === 0;
}

/** Message for a block outside a device of `sizeBytes`. */
export function blockOutside(kind: string, block: number, blockSize: number, sizeBytes: number): string {
  return `${kind} block ${block} is not inside the device (${Math.ceil(sizeBytes / blockSize)} blocks of ${blockSize} bytes)`;
}
