// FaultDevice: a deterministic fault-injection layer. Its rules (of the kinds in faults/registry.ts)
// apply in list order to every request and can be added, removed and listed at runtime.
import type { BlockDevice, WriteOptions, WriteZeroesOptions } from "./block-device.js";
import { LayerDevice } from "./base-device.js";
import {
  faultKindOf,
  faultRuleJson,
  formatFaultRule,
  normalizeFaultRule,
  type FaultRuleConfig,
  type NormalizedFaultRule,
} from "./fault-rules.js";
import { DustAction } from "./faults/dust.js";
import type { FaultAction, FaultContext, FaultRequest } from "./faults/fault-kind.js";
import { FaultRuleError } from "./faults/errors.js";
import { FlakeyAction } from "./faults/flakey.js";
import { faultKinds } from "./faults/registry.js";

/** Options of a fault layer. */
export interface FaultDeviceOptions {
  /** Initial rules, applied in order. */
  readonly rules?: readonly FaultRuleConfig[];
  /** Clock of time-driven rules (flakey, grow), in milliseconds (default Date.now). */
  readonly now?: () => number;
  /** How delaying rules (delay, slow) wait (default setTimeout). */
  readonly sleep?: (ms: number) => Promise<void>;
}

/** Counters of injected faults by counter name (every registered kind's counters). */
export type FaultCounters = Record<string, number>;

/** A rule as listed by FaultDevice.listRules(). */
export interface FaultRuleInfo {
  readonly id: number;
  readonly kind: string;
  /** The rule as device-spec wrapper text, e.g. "dust:block-size=4K,block=5". */
  readonly spec: string;
  /** The rule as data, valid input to addRule. */
  readonly config: FaultRuleConfig;
  /** Live state of the rule (kind-specific, e.g. `badBlocks`). */
  readonly status: Record<string, unknown>;
}

interface LiveRule {
  readonly id: number;
  readonly rule: NormalizedFaultRule;
  readonly action: FaultAction;
}

function defaultSleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Injects faults into the requests passing to the lower device; every injected fault is counted. */
export class FaultDevice extends LayerDevice {
  readonly name: string;
  private rules: readonly LiveRule[] = [];
  private nextRuleId = 1;
  private readonly faults: FaultCounters = {};
  private readonly ctx: FaultContext;

  constructor(lower: BlockDevice, options: FaultDeviceOptions = {}) {
    super(lower);
    this.name = lower.describe();
    const now = options.now ?? Date.now;
    const sleep = options.sleep ?? defaultSleep;
    for (const kind of faultKinds()) for (const c of kind.counters) this.faults[c.name] = 0;
    this.ctx = {
      device: this.name,
      sizeBytes: lower.sizeBytes,
      now: () => now(),
      sleep: (ms) => sleep(ms),
      count: (counter) => void (this.faults[counter] = (this.faults[counter] ?? 0) + 1),
    };
    for (const rule of options.rules ?? []) this.addRule(rule);
  }

  /** Validate and append a rule (options in JSON spelling); returns its id. */
  addRule(config: FaultRuleConfig): number {
    const rule = normalizeFaultRule(config, this.lower.sizeBytes);
    const action = faultKindOf(rule.kind).create(rule.options as never, this.ctx);
    const id = this.nextRuleId++;
    this.rules = [...this.rules, { id, rule, action }];
    return id;
  }

  /** Remove a rule by id; false if there is none. */
  removeRule(id: number): boolean {
    const before = this.rules.length;
    this.rules = this.rules.filter((r) => r.id !== id);
    return this.rules.length !== before;
  }

  /** Remove every rule (the layer then passes everything through). */
  clearRules(): void {
    this.rules = [];
  }

  private current({ rule, action }: LiveRule): NormalizedFaultRule {
    return action.options ? { kind: rule.kind, options: action.options() } : rule;
  }

  /** The current rules, in application order. */
  listRules(): FaultRuleInfo[] {
    return this.rules.map((live) => {
      const rule = this.current(live);
      return {
        id: live.id,
        kind: rule.kind,
        spec: formatFaultRule(rule),
        config: faultRuleJson(rule),
        status: live.action.status?.() ?? {},
      };
    });
  }

  private dust(ruleId: number | undefined): DustAction | undefined {
    for (const { id, action } of this.rules) {
      if (action instanceof DustAction && (ruleId === undefined || id === ruleId)) return action;
    }
    return undefined;
  }

  /** Mark a block bad in dust rule `ruleId` (default: the first dust rule, created with defaults if none). */
  addBadBlock(block: number, ruleId?: number): void {
    let dust = this.dust(ruleId);
    if (!dust) {
      if (ruleId !== undefined) throw new FaultRuleError("dust", "id", `no dust rule with id ${ruleId}`);
      dust = this.dust(this.addRule({ kind: "dust" }))!;
    }
    dust.add(block);
  }

  /** Clear a bad block in dust rule `ruleId` (default: every dust rule); false if it was not listed. */
  removeBadBlock(block: number, ruleId?: number): boolean {
    let removed = false;
    for (const { id, action } of this.rules) {
      if (action instanceof DustAction && (ruleId === undefined || id === ruleId)) {
        removed = action.remove(block) || removed;
      }
    }
    return removed;
  }

  /** Bad blocks now of the first rule that has a bad-block set (dust, grow), or of `ruleId`; ascending, in that rule's block size. */
  listBadBlocks(ruleId?: number): number[] {
    const live = this.rules.find((r) => r.action.badBlocks && (ruleId === undefined || r.id === ruleId));
    return live?.action.badBlocks?.() ?? [];
  }

  /** Restart every flakey rule's up/down cycle now (up first). */
  resetClock(): void {
    for (const { action } of this.rules) if (action instanceof FlakeyAction) action.reset();
  }

  /** Counters of injected faults, per kind. */
  faultCounters(): FaultCounters {
    return { ...this.faults };
  }

  private run(request: FaultRequest, last: () => Promise<void>): Promise<void> {
    const rules = this.rules;
    const step = (i: number): Promise<void> =>
      i === rules.length ? last() : rules[i]!.action.apply(request, () => step(i + 1));
    return step(0);
  }

  protected override _read(offsetBytes: number, target: Uint8Array): Promise<void> {
    const request = { type: "read", offsetBytes, lengthBytes: target.length, buffer: target } as const;
    return this.run(request, () => this.lower.read(offsetBytes, target));
  }

  protected override _write(offsetBytes: number, data: Uint8Array, options: WriteOptions): Promise<void> {
    const request = { type: "write", offsetBytes, lengthBytes: data.length, buffer: data } as const;
    return this.run(request, () => this.lower.write(offsetBytes, data, options));
  }

  protected override _flush(): Promise<void> {
    return this.run({ type: "flush", offsetBytes: 0, lengthBytes: 0 }, () => this.lower.flush());
  }

  protected override _trim(offsetBytes: number, lengthBytes: number): Promise<void> {
    return this.run({ type: "trim", offsetBytes, lengthBytes }, () =>
      this.lower.trim(offsetBytes, lengthBytes),
    );
  }

  protected override _writeZeroes(
    offsetBytes: number,
    lengthBytes: number,
    options: WriteZeroesOptions,
  ): Promise<void> {
    return this.run({ type: "zero", offsetBytes, lengthBytes }, () =>
      this.lower.writeZeroes(offsetBytes, lengthBytes, options),
    );
  }

  protected override statusExtra(): Record<string, unknown> {
    const notInjected = new Set(
      faultKinds().flatMap((k) => k.counters.filter((c) => c.notInjected).map((c) => c.name)),
    );
    const faults = this.faultCounters();
    const injected = Object.entries(faults)
      .filter(([key]) => !notInjected.has(key))
      .reduce((sum, [, n]) => sum + n, 0);
    return { injected, faults, rules: this.listRules().map((r) => r.spec), ...super.statusExtra() };
  }

  /** `RULE:RULE:...:LOWER`, or `fault::LOWER` when there are no rules. */
  describe(): string {
    const lower = this.lower.describe();
    if (this.rules.length === 0) return `fault::${lower}`;
    return [...this.listRules().map((r) => r.spec), lower].join(":");
  }
}
