// FaultDevice: a deterministic fault-injection layer (dm-dust, dm-flakey, dm-delay, seeded error rates).
// Rules apply in list order to every request and can be added, removed and listed at runtime.
import type { BlockDevice, WriteOptions, WriteZeroesOptions } from "./block-device.js";
import { LayerDevice } from "./base-device.js";
import {
  createFaultAction,
  DustAction,
  emptyFaultCounters,
  FlakeyAction,
  type FaultAction,
  type FaultContext,
  type FaultCounters,
  type FaultRequest,
} from "./fault-actions.js";
import {
  formatFaultRule,
  normalizeFaultRule,
  type FaultKind,
  type FaultRuleConfig,
  type NormalizedFaultRule,
} from "./fault-rules.js";

/** Options of a fault layer. */
export interface FaultDeviceOptions {
  /** Initial rules, applied in order. */
  readonly rules?: readonly FaultRuleConfig[];
  /** Clock for flakey intervals (default Date.now). */
  readonly now?: () => number;
  /** How delay rules wait (default setTimeout). */
  readonly sleep?: (ms: number) => Promise<void>;
}

/** A rule as listed by FaultDevice.listRules(). */
export interface FaultRuleInfo {
  readonly id: number;
  readonly kind: FaultKind;
  /** The rule as device-spec wrapper text, e.g. "dust:block-size=4K,block=5". */
  readonly spec: string;
  readonly config: NormalizedFaultRule;
}

function defaultSleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Injects faults into the requests passing to the lower device; every injected fault is counted. */
export class FaultDevice extends LayerDevice {
  readonly name: string;
  private rules: { readonly id: number; readonly action: FaultAction }[] = [];
  private nextRuleId = 1;
  private readonly faults = emptyFaultCounters();
  private readonly ctx: FaultContext;

  constructor(lower: BlockDevice, options: FaultDeviceOptions = {}) {
    super(lower);
    this.name = lower.describe();
    const now = options.now ?? Date.now;
    const sleep = options.sleep ?? defaultSleep;
    this.ctx = {
      device: this.name,
      sizeBytes: lower.sizeBytes,
      now: () => now(),
      sleep: (ms) => sleep(ms),
      count: (counter) => this.faults[counter]++,
    };
    for (const rule of options.rules ?? []) this.addRule(rule);
  }

  /** Validate and append a rule; returns its id. */
  addRule(config: FaultRuleConfig): number {
    const action = createFaultAction(normalizeFaultRule(config, this.lower.sizeBytes), this.ctx);
    const id = this.nextRuleId++;
    this.rules = [...this.rules, { id, action }];
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

  /** The current rules, in application order. */
  listRules(): FaultRuleInfo[] {
    return this.rules.map(({ id, action }) => {
      const config = action.config();
      return { id, kind: action.kind, spec: formatFaultRule(config), config };
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
      if (ruleId !== undefined) throw new RangeError(`no dust rule with id ${ruleId}`);
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

  /** Bad blocks of the first dust rule (or of `ruleId`), ascending, in that rule's block size. */
  listBadBlocks(ruleId?: number): number[] {
    return this.dust(ruleId)?.list() ?? [];
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
    const faults = this.faultCounters();
    const injected = Object.entries(faults)
      .filter(([key]) => key !== "dustHeals")
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
